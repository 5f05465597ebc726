import Synchronization
import Tensors

/// The weights of one Show-Attend-Tell decoder step (`decoder_att`, `f_beta`, `weight_hh`, `weight_ih`, `fc`) in
/// the panel layout of `panelGEMM`, so that each step streams them once, sequentially (few-row products).
final class ShowAttendTellStepPanels: @unchecked Sendable {
    /// `ParameterStore.generation` and kernel they were packed from.
    let generation: Int
    let kernel: GEMMKernel
    let decAtt: PanelWeights?, fBeta: PanelWeights?
    let wHH: PanelWeights, wIH: PanelWeights, fc: PanelWeights

    init(_ m: ShowAttendTell, kernel: GEMMKernel) {
        let c = m.config
        let (V, E, A, H, L) = (c.vocabularySize, c.encoderSize, c.attentionSize, c.hiddenSize, c.lstmInput)
        generation = m.parameters.generation
        self.kernel = kernel
        let packed: (PanelWeights?, PanelWeights?, PanelWeights, PanelWeights, PanelWeights) =
            m.parameters.values.withUnsafeBufferPointer { wb in
                let w = wb.baseAddress!
                return (c.useAttention ? PanelWeights(w + m.decAttW, n: A, k: H, kernel: kernel) : nil,
                        c.useAttention ? PanelWeights(w + m.fBetaW, n: E, k: H, kernel: kernel) : nil,
                        PanelWeights(w + m.wHH, n: 4 * H, k: H, kernel: kernel),
                        PanelWeights(w + m.wIH, n: 4 * H, k: L, kernel: kernel),
                        PanelWeights(w + m.fcW, n: V, k: H, kernel: kernel))
            }
        (decAtt, fBeta, wHH, wIH, fc) = packed
    }
}

/// The model's cached step panels (rebuilt when the parameters or the GEMM kernel changed).
final class StepPanelCache: Sendable {
    private let cached = Mutex<ShowAttendTellStepPanels?>(nil)

    func panels(for model: ShowAttendTell) -> ShowAttendTellStepPanels {
        let kernel = GEMMConfiguration.resolvedKernel
        return cached.withLock { slot in
            if let p = slot, p.generation == model.parameters.generation, p.kernel == kernel { return p }
            slot = nil   // free the stale copy before packing the new one
            let p = ShowAttendTellStepPanels(model, kernel: kernel)
            slot = p
            return p
        }
    }
}
