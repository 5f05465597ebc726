import Tensors
import NeuralNetwork
import Vision
import Captioning

/// `caption bench train`: one optimisation step of each decoder on the baseline's batch (32 captions,
/// 20 steps, Adam), and one distillation step of the small CNN encoder (a new figure).
enum TrainBench {
    static var group: BenchGroup { BenchGroup(name: "train",
                                  summary: "training steps: Show-Attend-Tell (E512, E2048) and transformer decoders at batch 32, small CNN distillation step",
                                  figures: figures) }

    static let smallCNNBatch = 32

    static func figures() -> [BenchFigure] {
        var out: [BenchFigure] = []
        for e in [512, 2048] {
            out.append(BenchFigure(name: "sat_decoder/E\(e)/train_step/batch32",
                                   shape: "features [32,49,\(e)], captions [32,21] (640 targets): forward, CE + attention penalty, backward, Adam(4e-4); regions projected once",
                                   itemsPerCall: 32, item: "captions") {
                DecoderWorkloads.satTrainStep(encoderSize: e)
            })
        }
        out.append(BenchFigure(name: "transformer_decoder/train_step/batch32",
                               shape: "memory [32,49,512], tokens [32,20], causal: 3-layer decoder, CE over 640 tokens, backward, Adam(1e-4)",
                               itemsPerCall: 32, item: "captions") {
            DecoderWorkloads.transformerTrainStep()
        })
        let b = smallCNNBatch
        out.append(BenchFigure(name: "small_cnn/distill_step/batch\(b)",
                               shape: "[\(b),3,224,224] -> small CNN (standard, train-mode BN) -> [\(b),1280,7,7], MSE to a fixed target, backward, Adam(2e-3)",
                               itemsPerCall: Double(b), item: "images") {
            let net = SmallCNN(configuration: .standard(), seed: 3)
            net.setTraining(true)
            var rng = SeededRandom(seed: 31)
            let x = Variable(Tensor.uniform([b, 3, 224, 224], -1, 1, rng: &rng))
            let target = Variable(Tensor.normal([b, net.featureChannels, 7, 7], rng: &rng))
            let adam = Adam(net.parameters, learningRate: 2e-3)
            return {
                adam.zeroGrad()
                let loss = mseLoss(net.forward(x), target)
                loss.backward()
                adam.step()
            }
        })
        return out
    }
}
