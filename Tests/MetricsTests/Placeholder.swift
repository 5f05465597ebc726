// Tests for Metrics are added with the module's implementation.
