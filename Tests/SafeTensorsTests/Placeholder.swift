// Tests for SafeTensors are added with the module's implementation.
