# Writes python_written.safetensors with Python's `safetensors` (the reference implementation), so that the
# Swift reader is tested on a file it did not write. Run: python make_fixture.py (needs numpy, safetensors).
import numpy as np
from safetensors.numpy import save_file

tensors = {
    "weight": np.array([[1.5, -2.25, 3.0], [0.0, 1e-8, -0.0]], dtype=np.float32),
    "half": np.array([1.0, 6.1e-5, 5.96e-8, -65504.0, 0.33325], dtype=np.float16),  # includes a subnormal
    "ids": np.array([0, -1, 2**40, 7], dtype=np.int64),
    "bytes": np.array([[0, 255], [17, 128]], dtype=np.uint8),
}
save_file(tensors, "python_written.safetensors", metadata={"format": "pt", "note": "caf\u00e9 \"quoted\""})
