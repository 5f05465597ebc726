// Tests for ImageCodecs are added with the module's implementation.
