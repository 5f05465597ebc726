// swift-tools-version: 6.1
import PackageDescription

/// Hot kernels are written with `SIMD8<Float>`/`SIMD16<Float>`; these flags let LLVM lower them to
/// AVX2/FMA instructions (without them every FMA lane becomes a libm call). The binary therefore
/// needs an x86-64-v3 CPU (any AVX2+FMA machine); AVX-512 paths are selected at run time.
let vectorFlags: [SwiftSetting] = [
    .unsafeFlags(["-Xcc", "-mavx2", "-Xcc", "-mfma", "-Xcc", "-mf16c", "-Xcc", "-mbmi2"]),
]
/// Only the AVX-512 micro-kernel target: never call into it unless `CPUFeatures.hasAVX512F`.
let avx512Flags: [SwiftSetting] = [
    .unsafeFlags(["-Xcc", "-mavx512f", "-Xcc", "-mavx512vl", "-Xcc", "-mavx512dq", "-Xcc", "-mavx512bw",
                  "-Xcc", "-mavx2", "-Xcc", "-mfma", "-Xcc", "-mf16c", "-Xcc", "-mbmi2"]),
]
let strict: [SwiftSetting] = [.swiftLanguageMode(.v6)]

let package = Package(
    name: "caption",
    products: [
        .executable(name: "caption", targets: ["caption"]),
        .library(name: "Tensors", targets: ["Tensors"]),
        .library(name: "NeuralNetwork", targets: ["NeuralNetwork"]),
        .library(name: "Vision", targets: ["Vision"]),
        .library(name: "Text", targets: ["Text"]),
        .library(name: "Metrics", targets: ["Metrics"]),
        .library(name: "Captioning", targets: ["Captioning"]),
    ],
    traits: [
        .trait(name: "OpenBLAS", description: "Link the system OpenBLAS (libopenblas-dev) as a comparison in `caption bench gemm`. Off by default."),
    ],
    targets: [
        // Tensors and kernels: storage, shapes, GEMM, convolution, threading.
        .target(name: "Tensors", dependencies: ["TensorsAVX512"], swiftSettings: strict + vectorFlags),
        // The AVX-512 GEMM micro-kernel, compiled for AVX-512F and selected at run time by Tensors.
        .target(name: "TensorsAVX512", swiftSettings: strict + avx512Flags),
        // System OpenBLAS, only with the `OpenBLAS` trait: a comparison for `caption bench gemm`.
        .systemLibrary(name: "COpenBLAS", path: "Sources/COpenBLAS", pkgConfig: "openblas"),
        // safetensors and the small JSON needs of file headers: no dependencies.
        .target(name: "SafeTensors", swiftSettings: strict),
        // Layers, autodiff, losses, optimisers.
        .target(name: "NeuralNetwork", dependencies: ["Tensors", "SafeTensors"], swiftSettings: strict + vectorFlags),
        // Image file formats: JPEG, PNG, PPM/PGM, decoded exactly as Pillow does.
        .target(name: "ImageCodecs", swiftSettings: strict + vectorFlags),
        // Preprocessing and CNN encoders.
        .target(name: "Vision", dependencies: ["ImageCodecs", "NeuralNetwork", "Tensors", "SafeTensors"],
                resources: [.copy("Resources")], swiftSettings: strict + vectorFlags),
        // Training tokenizer and vocabulary.
        .target(name: "Text", dependencies: ["SafeTensors"], swiftSettings: strict),
        // BLEU, CIDEr-D, ROUGE-L and the PTB scoring tokenizer (pycocoevalcap-exact).
        .target(name: "Metrics", dependencies: ["SafeTensors"], swiftSettings: strict),
        // Datasets, decoders, beam search, trainer, checkpoints.
        .target(name: "Captioning", dependencies: ["Tensors", "NeuralNetwork", "Vision", "Text", "Metrics", "SafeTensors"],
                swiftSettings: strict + vectorFlags),
        // The command-line tool.
        .executableTarget(name: "caption", dependencies: ["Captioning", "Vision", "ImageCodecs", "Text", "Metrics", "NeuralNetwork", "Tensors", "SafeTensors",
                                                          .target(name: "COpenBLAS", condition: .when(traits: ["OpenBLAS"]))],
                          swiftSettings: strict + vectorFlags),

        .testTarget(name: "TensorsTests", dependencies: ["Tensors"], swiftSettings: strict + vectorFlags),
        .testTarget(name: "SafeTensorsTests", dependencies: ["SafeTensors"], exclude: ["Fixtures"], swiftSettings: strict),
        .testTarget(name: "NeuralNetworkTests", dependencies: ["NeuralNetwork", "Tensors", "SafeTensors"], exclude: ["Golden"], swiftSettings: strict + vectorFlags),
        .testTarget(name: "ImageCodecsTests", dependencies: ["ImageCodecs", "SafeTensors"], resources: [.copy("Fixtures")], swiftSettings: strict),
        .testTarget(name: "VisionTests", dependencies: ["Vision", "ImageCodecs", "NeuralNetwork", "Tensors", "SafeTensors"], exclude: ["Fixtures"], swiftSettings: strict + vectorFlags),
        .testTarget(name: "TextTests", dependencies: ["Text"], swiftSettings: strict),
        .testTarget(name: "MetricsTests", dependencies: ["Metrics"], exclude: ["Fixtures"], swiftSettings: strict),
        .testTarget(name: "CaptioningTests", dependencies: ["Captioning", "NeuralNetwork", "Tensors", "Text", "SafeTensors"], exclude: ["Golden", "Fixtures"], swiftSettings: strict + vectorFlags),
        .testTarget(name: "CLITests", dependencies: ["caption"], swiftSettings: strict),
    ]
)
