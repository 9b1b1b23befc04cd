// The ap_fixed oracle: applies the real Xilinx ap_fixed semantics (ap_types headers from the
// hls4ml wheel) to raw integers read from stdin and prints the raw results, one per line.
// The cases (formats, modes, operations) come from cases.h, written by the test:
//   X(id, OP, W1, I1, S1, W2, I2, S2, Q, O)
//   OP_CONVERT: raw of ap_[u]fixed<W1,I1> assigned to ap_[u]fixed<W2,I2,Q,O>
//   OP_DOUBLE : a double assigned to ap_[u]fixed<W2,I2,Q,O>
//   OP_MUL    : exact product of ap_[u]fixed<W1,I1> and ap_[u]fixed<W2,I2> (raw at F1 + F2)
// stdin lines: "<id> <raw>" (or "<id> <double>" for OP_DOUBLE; "<id> <raw_a> <raw_b>" for OP_MUL).
#include <ap_fixed.h>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <type_traits>

enum { OP_CONVERT, OP_DOUBLE, OP_MUL };

template <int W, int I, bool S, ap_q_mode Q = AP_TRN, ap_o_mode O = AP_WRAP>
using fx = typename std::conditional<S, ap_fixed<W, I, Q, O>, ap_ufixed<W, I, Q, O>>::type;

template <int W, int I, bool S, ap_q_mode Q, ap_o_mode O>
fx<W, I, S, Q, O> from_raw(long long raw) {
    fx<W, I, S, Q, O> v;
    v.range(W - 1, 0) = (unsigned long long)raw & ((W >= 64) ? ~0ULL : ((1ULL << W) - 1));
    return v;
}

template <typename T>
long long to_raw(const T &v, int width, bool is_signed) {
    unsigned long long bits = v.range(width - 1, 0).to_uint64();
    long long raw = (long long)bits;
    if (is_signed && width < 64 && (bits >> (width - 1)) & 1ULL) raw -= (long long)(1ULL << width);
    return raw;
}

template <int OP, int W1, int I1, bool S1, int W2, int I2, bool S2, ap_q_mode Q, ap_o_mode O>
long long run_case(const char *args) {
    if (OP == OP_CONVERT) {
        long long raw = std::strtoll(args, nullptr, 10);
        fx<W2, I2, S2, Q, O> out = from_raw<W1, I1, S1, AP_TRN, AP_WRAP>(raw);
        return to_raw(out, W2, S2);
    } else if (OP == OP_DOUBLE) {
        double x = std::strtod(args, nullptr);
        fx<W2, I2, S2, Q, O> out = x;
        return to_raw(out, W2, S2);
    } else {
        char *end;
        long long a = std::strtoll(args, &end, 10);
        long long b = std::strtoll(end, nullptr, 10);
        auto prod = from_raw<W1, I1, S1, AP_TRN, AP_WRAP>(a) * from_raw<W2, I2, S2, AP_TRN, AP_WRAP>(b);
        // the product type is exact: read its raw value at frac bits (W1 - I1) + (W2 - I2)
        const int F = (W1 - I1) + (W2 - I2);
        ap_fixed<62, 62 - F> wide = prod;
        return to_raw(wide, 62, true);
    }
}

#include "cases.h"

int main() {
    char line[256];
    while (std::fgets(line, sizeof line, stdin)) {
        char *rest;
        long id = std::strtol(line, &rest, 10);
        long long out = 0;
        switch (id) {
#define X(ID, OP, W1, I1, S1, W2, I2, S2, Q, O) \
    case ID: out = run_case<OP, W1, I1, S1, W2, I2, S2, Q, O>(rest); break;
            CASES
#undef X
            default:
                std::fprintf(stderr, "unknown case %ld\n", id);
                return 2;
        }
        std::printf("%lld\n", out);
    }
    return 0;
}
