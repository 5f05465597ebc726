// Tests for Captioning are added with the module's implementation.
