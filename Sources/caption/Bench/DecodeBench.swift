import Captioning

/// `caption bench decode`: the baseline's decoding figures with its shapes (V = 3000, 49 regions, 20 words,
/// fixed work: no hypothesis ever ends). Our Show-Attend-Tell decoder projects the regions once per image
/// (compare with the baseline's `_cached_att` figures too); our transformer decoder keeps a key/value cache,
/// so `transformer_decoder/greedy_naive/...` joins the baseline's prefix-recomputing decode of the same shape
/// (an algorithmic difference).
enum DecodeBench {
    static var group: BenchGroup { BenchGroup(name: "decode",
                                  summary: "Show-Attend-Tell greedy/beam-5 (E512, E2048) and transformer greedy/beam-5 decoding, batch 1 and 32",
                                  figures: figures) }

    static func figures() -> [BenchFigure] {
        var out: [BenchFigure] = []
        for e in [512, 2048] {
            for batch in [1, 32] {
                out.append(BenchFigure(name: "sat_decoder/E\(e)/greedy/batch\(batch)",
                                       shape: "features [\(batch),49,\(e)] -> 20 greedy steps (init_h/c, attention, gate, LSTMCell, fc 3000, argmax)",
                                       itemsPerCall: Double(batch), item: "images") {
                    DecoderWorkloads.satGreedy(encoderSize: e, batch: batch)
                })
            }
            for batch in [1, 32] {
                out.append(BenchFigure(name: "sat_decoder/E\(e)/beam5/batch\(batch)",
                                       shape: "features [\(batch),49,\(e)] -> beam 5, 20 steps, no hypothesis ends (\(5 * batch) live rows a step)",
                                       itemsPerCall: Double(batch), item: "images") {
                    DecoderWorkloads.satBeam(encoderSize: e, beam: 5, images: batch)
                })
            }
        }
        for batch in [1, 32] {
            out.append(BenchFigure(name: "transformer_decoder/greedy_naive/batch\(batch)",
                                   shape: "memory [\(batch),49,512] -> 3-layer post-norm decoder (d512 h8 ff2048), 20 greedy steps with a K/V cache",
                                   itemsPerCall: Double(batch), item: "images") {
                DecoderWorkloads.transformerGreedy(batch: batch)
            })
        }
        for batch in [1, 32] {
            out.append(BenchFigure(name: "transformer_decoder/beam5/batch\(batch)",
                                   shape: "memory [\(batch),49,512] -> beam 5, 20 steps with a K/V cache, no hypothesis ends",
                                   itemsPerCall: Double(batch), item: "images") {
                DecoderWorkloads.transformerBeam(beam: 5, images: batch)
            })
        }
        return out
    }
}
