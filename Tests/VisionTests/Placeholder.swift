// Tests for Vision are added with the module's implementation.
