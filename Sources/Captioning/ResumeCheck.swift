extension TrainingRunConfiguration {
    /// The model settings (encoder, decoder and its sizes) this configuration asks for that differ from a
    /// checkpoint's, each as `what checkpoint-value vs requested-value`; `--resume` is refused when any does.
    /// With `initFrom` the decoder came from that model, so only the encoder is compared.
    public func modelDifferences(from saved: ModelConfig) -> [String] {
        var d: [String] = []
        func add<T: Equatable>(_ what: String, _ s: T, _ n: T) { if s != n { d.append("\(what) \(s) vs \(n)") } }
        add("encoder", saved.encoder.name, encoder)
        if initFrom != nil { return d }
        add("decoder", saved.decoder, decoder)
        if decoder == saved.decoder, decoder == "lstm", let l = saved.lstm {
            add("--embedding-size", l.embeddingSize, lstm.embedding)
            add("--attention-size", l.attentionSize, lstm.attention)
            add("--hidden-size", l.hiddenSize, lstm.hidden)
            add("--dropout", l.dropout, lstm.dropout)
            if l.useAttention != lstm.useAttention {
                d.append(l.useAttention ? "attention vs --no-attention" : "--no-attention vs attention")
            }
        }
        if decoder == saved.decoder, decoder == "transformer", let t = saved.transformer {
            add("--model-size", t.modelSize, transformer.model)
            add("--heads", t.heads, transformer.heads)
            add("--ff-size", t.feedForwardSize, transformer.feedForward)
            add("--layers", t.layers, transformer.layers)
            add("--dropout", t.dropout, transformer.dropout)
            add("--max-words", t.maxPositions - 2, maxCaptionWords)
        }
        return d
    }
}

extension TrainingState {
    /// Throws a one-line error when a checkpoint's state cannot be resumed from (negative counters, a learning rate
    /// that is not a positive finite number): a corrupt checkpoint is refused instead of crashing the trainer.
    public func validate() throws(DatasetError) {
        for (name, v) in [("epoch", epoch), ("batchInEpoch", batchInEpoch), ("step", step), ("bestEpoch", bestEpoch),
                          ("epochsWithoutImprovement", epochsWithoutImprovement), ("lossCount", lossCount)] where v < 0 {
            throw DatasetError("training state: \(name) \(v) is negative")
        }
        guard learningRate.isFinite, learningRate > 0 else {
            throw DatasetError("training state: learning rate \(learningRate) is not a positive number")
        }
    }
}
