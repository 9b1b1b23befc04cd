// Quantiser (SEMANTICS.md section 3): detector-side encoder and FPGA-side decoder LUT.
// {{ banner }}
#ifndef CODESIGN_QUANTISER_H
#define CODESIGN_QUANTISER_H

#include "csim_trace.h"
#include "defines.h"
#include "parameters.h"

// code = #{ i : et >= thresholds[i] }. The thresholds are sorted, so the count is found by
// successive approximation over the code bits: CODE_BITS comparisons instead of LEVELS - 1.
static code_t encode_cell(et_in_t et, int layer) {
#pragma HLS INLINE
    code_t code = 0;
encode_bits:
    for (int b = CODE_BITS - 1; b >= 0; b--) {
        code_t trial = code | (code_t(1) << b);
        if (et >= ENCODER_THRESHOLDS[layer][trial - 1]) code = trial;
    }
    return code;
}

// Detector side: one stream word (PIX_PAR cells of every layer) per clock.
static void encode_word(const et_in_t et[N_LAYERS][PIX_PAR], code_word_t &word) {
#pragma HLS INLINE
encode_layers:
    for (int l = 0; l < N_LAYERS; l++) {
    encode_pixels:
        for (int p = 0; p < PIX_PAR; p++) word.c[l][p] = encode_cell(et[l][p], l);
    }
}

// FPGA side: et_dec = levels[code], one LUT per layer, PIX_PAR lookups per clock.
static void decode(hls::stream<code_word_t> &codes, hls::stream<et_word_t> &et_dec) {
#pragma HLS BIND_STORAGE variable=DECODER_LUT type={{ 'rom_2p' if pixel_parallelism <= 2 else 'rom_np' }} impl=lutram
#pragma HLS ARRAY_PARTITION variable=DECODER_LUT complete dim=1
decode_stream:
    for (int t = 0; t < N_PIXELS / PIX_PAR; t++) {
#pragma HLS PIPELINE II=1
        code_word_t in = codes.read();
        et_word_t out;
    decode_layers:
        for (int l = 0; l < N_LAYERS; l++) {
        decode_pixels:
            for (int p = 0; p < PIX_PAR; p++) {
                out.e[l][p] = DECODER_LUT[l][in.c[l][p]];
                CSIM_RECORD(et_dec[l][t / GROUPS_PER_ROW][(t % GROUPS_PER_ROW) * PIX_PAR + p], out.e[l][p]);
            }
        }
        et_dec.write(out);
    }
}

#endif
