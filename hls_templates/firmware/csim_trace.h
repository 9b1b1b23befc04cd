// C-simulation probes: every block records its per-pixel outputs (raw bits) for the bit-exact
// comparison with the emulator. Compiled out under synthesis (__SYNTHESIS__).
// {{ banner }}
#ifndef CODESIGN_CSIM_TRACE_H
#define CODESIGN_CSIM_TRACE_H

#include "defines.h"

#ifndef __SYNTHESIS__
struct csim_trace_t {
    long long et_dec[N_LAYERS][ETA_BINS][PHI_BINS];
    long long conv_act[ETA_BINS][PHI_BINS][N_CONV];
    long long seg_w[ETA_BINS][PHI_BINS][N_LAYERS];
    long long et_pred[ETA_BINS][PHI_BINS];
    long long seeds[ETA_BINS][PHI_BINS];
};

// Set by the testbench; null: no recording.
extern csim_trace_t *csim_trace;

// The raw integer of a fixed-point value (sign-extended when signed), of an ap_[u]int, of a bool.
template <int W, int I, bool S, ap_q_mode Q, ap_o_mode O, int N>
long long raw_bits(const ap_fixed_base<W, I, S, Q, O, N> &v) {
    const unsigned long long bits = v.range(W - 1, 0).to_uint64();
    return (S && (bits >> (W - 1)) & 1ULL) ? (long long)bits - (long long)(1ULL << W) : (long long)bits;
}
template <int W, bool S>
long long raw_bits(const ap_int_base<W, S> &v) {
    return v.to_int64();
}
inline long long raw_bits(bool v) { return v; }

#define CSIM_RECORD(field, value)                                \
    do {                                                         \
        if (csim_trace) csim_trace->field = raw_bits(value);     \
    } while (0)
#else
#define CSIM_RECORD(field, value) \
    do {                          \
    } while (0)
#endif

#endif
