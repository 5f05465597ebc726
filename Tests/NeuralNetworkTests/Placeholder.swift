// Tests for NeuralNetwork are added with the module's implementation.
