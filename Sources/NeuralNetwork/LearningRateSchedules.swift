#if canImport(Glibc)
import Glibc
#endif

/// Learning-rate schedules. Each gives a multiplier of the groups' base learning rate; apply it
/// with `optimizer.scaleLearningRates(schedule.factor(...))`.
public enum LearningRateSchedule: Sendable {
    /// `gamma^(floor(epoch / stepSize))` (`StepLR`).
    case stepDecay(stepSize: Int, gamma: Float)
    /// Linear warm-up `(step+1)/warmup` for `step < warmup`, then cosine from 1 down to
    /// `minFactor` at `totalSteps`: `min + (1-min)(1+cos(π·progress))/2`.
    case warmupCosine(warmupSteps: Int, totalSteps: Int, minFactor: Float)
    /// `min((step+1)/warmup, sqrt(warmup/(step+1)))` (Transformer "Noam" shape, peak 1 at warm-up end).
    case inverseSquareRoot(warmupSteps: Int)

    /// The multiplier at `step` (0-based; epochs for `stepDecay`).
    public func factor(_ step: Int) -> Float {
        switch self {
        case let .stepDecay(stepSize, gamma):
            return Float(Glibc.pow(Double(gamma), Double(step / max(stepSize, 1))))
        case let .warmupCosine(warmup, total, minFactor):
            if step < warmup { return Float(step + 1) / Float(warmup) }
            let progress = min(1, Double(step - warmup) / Double(max(1, total - warmup)))
            return minFactor + (1 - minFactor) * Float(0.5 * (1 + Glibc.cos(Double.pi * progress)))
        case let .inverseSquareRoot(warmup):
            let s = Double(step + 1), w = Double(max(warmup, 1))
            return Float(min(s / w, (w / s).squareRoot()))
        }
    }
}

/// `ReduceLROnPlateau` (relative threshold mode, no cooldown): after more than `patience`
/// epochs without improving the best metric by a relative `threshold`, multiplies every group's
/// learning rate by `factor` (not below `minLearningRate`).
public final class ReduceOnPlateau {
    public enum Mode: Sendable { case min, max }
    public let mode: Mode
    public let factor: Float, patience: Int, threshold: Float, minLearningRate: Float
    public private(set) var best: Float?
    public private(set) var badEpochs = 0

    public init(mode: Mode = .min, factor: Float = 0.1, patience: Int = 10, threshold: Float = 1e-4, minLearningRate: Float = 0) {
        self.mode = mode
        self.factor = factor
        self.patience = patience
        self.threshold = threshold
        self.minLearningRate = minLearningRate
    }

    /// Records this epoch's metric; returns true when the learning rates were reduced.
    @discardableResult
    public func step(_ metric: Float, optimizer: any Optimizer) -> Bool {
        let improved: Bool
        if let b = best {
            improved = mode == .min ? metric < b * (1 - threshold) : metric > b * (1 + threshold)
        } else { improved = true }
        if improved { best = metric; badEpochs = 0; return false }
        badEpochs += 1
        guard badEpochs > patience else { return false }
        badEpochs = 0
        for g in optimizer.groups {
            let lr = max(g.learningRate * factor, minLearningRate)
            g.baseLearningRate *= lr / max(g.learningRate, .leastNormalMagnitude)
            g.learningRate = lr
        }
        return true
    }
}
