// Calibration (SEMANTICS.md section 6): pt_calib = LUT[|eta| bin of the seed row][log-spaced address of pT].
// {{ banner }}
#ifndef CODESIGN_CALIBRATION_H
#define CODESIGN_CALIBRATION_H

#include "defines.h"
#include "parameters.h"

// Exact below 2^M; above, (octave, the M bits below the leading one): e = floor(log2 pT),
// address = (e - M + 1) * 2^M + ((pT >> (e - M)) mod 2^M). Non-decreasing in pT.
static calib_addr_t calib_address(cluster_pt_t pt) {
#pragma HLS INLINE
    const ap_uint<PT_BITS> raw = pt.range(PT_BITS - 1, 0);
    if (raw < (1 << MANTISSA_BITS)) return raw;
    int e = 0;
leading_one:
    for (int k = PT_BITS - 1; k >= MANTISSA_BITS; k--) {
        if (raw[k] && e == 0) e = k;
    }
    const ap_uint<PT_BITS> mant = (raw >> (e - MANTISSA_BITS)) & ((1 << MANTISSA_BITS) - 1);
    return ((e - MANTISSA_BITS + 1) << MANTISSA_BITS) + mant;
}

// One LUT lookup per clock (the LUT is a ROM in block RAM); padding slots stay zero.
static void calibrate(const cluster_pt_t pt[N_CLUSTERS], const eta_idx_t ieta[N_CLUSTERS],
                      const phi_idx_t iphi[N_CLUSTERS], count_t n_clusters, cluster_pt_t pt_out[N_CLUSTERS],
                      eta_idx_t ieta_out[N_CLUSTERS], phi_idx_t iphi_out[N_CLUSTERS], count_t &n_out,
                      pt_calib_t pt_calib[N_CLUSTERS]) {
#pragma HLS BIND_STORAGE variable=CALIB_LUT type=rom_2p impl=bram
calibrate_slots:
    for (int k = 0; k < N_CLUSTERS; k++) {
#pragma HLS PIPELINE II=1
        const pt_calib_t value = CALIB_LUT[ETA_BIN_OF_ROW[ieta[k]]][calib_address(pt[k])];
        pt_calib[k] = k < n_clusters ? value : pt_calib_t(0);
        pt_out[k] = pt[k];
        ieta_out[k] = ieta[k];
        iphi_out[k] = iphi[k];
    }
    n_out = n_clusters;
}

#endif
