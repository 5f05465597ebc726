// System OpenBLAS (apt-get install libopenblas-dev), used only by `caption bench gemm` with the OpenBLAS trait.
#include <cblas.h>
