// Dimensions and fixed-point types of the trigger chain.
// {{ banner }}
//
// Types come from the bundle's formats (= the spec's derived formats). The four
// requantisations of emulation/SEMANTICS.md (conv_act, dense_act, seg_w, et_pred) carry
// {{ rounding }} + {{ overflow }}, so `act_t a = acc;` is exactly emulation.fixed.convert;
// every accumulator is wide enough that products and sums never round or wrap.
#ifndef CODESIGN_DEFINES_H
#define CODESIGN_DEFINES_H

#include <ap_fixed.h>
#include <ap_int.h>
#include <hls_stream.h>

// ------------------------------------------------------------------ image and stream
#define ETA_BINS {{ eta_bins }}
#define PHI_BINS {{ phi_bins }}
#define N_LAYERS {{ n_layers }}
#define N_PIXELS (ETA_BINS * PHI_BINS)
#define PIX_PAR {{ pixel_parallelism }}  // pixels per clock (derived from the latency budget)
#define GROUPS_PER_ROW (PHI_BINS / PIX_PAR)

// ------------------------------------------------------------------ quantiser
#define LEVELS {{ levels }}
#define CODE_BITS {{ code_bits }}

// ------------------------------------------------------------------ CNN
#define DEPTH_MULT {{ depth_multiplier }}
#define N_TAPS {{ n_taps }}  // centre, eta pair, phi pair, corners
#define N_CONV (N_LAYERS * DEPTH_MULT)
#define HIDDEN {{ hidden }}
#define CNN_LB_ROWS 4  // rows i-1, i, i+1 being read while row i+2 streams in

// ------------------------------------------------------------------ clusterer
#define WINDOW {{ window }}
#define WIN_R {{ window // 2 }}
#define N_NEIGHBOURS {{ neighbours | length }}
#define CL_LB_ROWS (WINDOW + 1)  // the 9-row window plus the row streaming in
#define N_CLUSTERS {{ n_clusters }}

// ------------------------------------------------------------------ calibration
#define ABS_ETA_BINS {{ abs_eta_bins }}
#define CALIB_ADDRESSES {{ calib_addresses }}
#define MANTISSA_BITS {{ mantissa_bits }}
#define PT_BITS {{ pt_bits }}

// ------------------------------------------------------------------ types
{% for t in types %}
typedef {{ t.cpp }} {{ t.name }};  // {{ t.role }}
{% endfor %}
typedef ap_uint<{{ eta_index_bits }}> eta_idx_t;
typedef ap_uint<{{ phi_index_bits }}> phi_idx_t;
typedef ap_uint<{{ count_bits }}> count_t;
typedef ap_uint<{{ calib_address_bits }}> calib_addr_t;
typedef ap_uint<{{ abs_eta_index_bits }}> abs_eta_idx_t;

// Stream words: PIX_PAR pixels of one eta row, raster order.
struct code_word_t {
    code_t c[N_LAYERS][PIX_PAR];
};
struct et_word_t {
    et_dec_t e[N_LAYERS][PIX_PAR];
};
struct pred_word_t {
    et_pred_t e[PIX_PAR];
};

// Clusterer window: neighbour offsets in raster order (emulation.clusterer.window_offsets).
// A pixel seeds when it beats every neighbour before it (>) and ties-or-beats those after (>=).
static const int WIN_DETA[N_NEIGHBOURS] = { {{ neighbours | map(attribute=0) | join(", ") }} };
static const int WIN_DPHI[N_NEIGHBOURS] = { {{ neighbours | map(attribute=1) | join(", ") }} };
static const bool WIN_AFTER[N_NEIGHBOURS] = { {{ neighbours | map(attribute=2) | join(", ") }} };

#endif
