// Tests for Text are added with the module's implementation.
