import Tensors

/// How an encoder's input is prepared from an RGB image (see DESIGN.md, "Image preprocessing").
public enum Preprocessing: String, Sendable, Codable, CaseIterable {
    /// torchvision's ImageNet transform: resize the short side to 256 (Pillow antialiased bilinear), centre-crop 224,
    /// ToTensor, Normalize(mean (0.485, 0.456, 0.406), std (0.229, 0.224, 0.225)).
    case imagenet
    /// The same resize and crop, then scaled to [-1, 1] (MobileNetV2).
    case mobilenet
    /// Resize straight to the encoder's input size (no crop), scaled to [-1, 1] (the small CNN; Flickr8k's
    /// 224x224 images pass through unchanged).
    case direct
}

/// A CNN image encoder used for captioning: images in, region features out.
public protocol ImageEncoder: AnyObject {
    /// `resnet18`, `resnet34`, `resnet50`, `mobilenet_v2` or `small`.
    var name: String { get }
    /// Channels of the output feature map (512, 2048, 1280, ...).
    var featureChannels: Int { get }
    /// How the encoder's input is prepared.
    var preprocessing: Preprocessing { get }
    /// Side of the square input the encoder expects (224).
    var inputSize: Int { get }
    /// Inference: `[N, 3, H, W]` preprocessed images to the last feature map `[N, C, h, w]`.
    func features(_ images: Tensor) -> Tensor
}
