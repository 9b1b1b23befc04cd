// Trigger (SEMANTICS.md section 7): calibrated clusters re-sorted, pT1 >= T1 and pT4 >= T4.
// {{ banner }}
#ifndef CODESIGN_TRIGGER_H
#define CODESIGN_TRIGGER_H

#include "defines.h"
#include "parameters.h"

// Odd-even transposition sorting network, descending: N_CLUSTERS stages of compare-exchange
// on neighbours, exchanging only when strictly out of order, so equal values keep their order.
static void trigger(const pt_calib_t pt_calib[N_CLUSTERS], pt_calib_t pt_calib_out[N_CLUSTERS],
                    pt_calib_t sorted_pt[N_CLUSTERS], pt_calib_t &pt1, pt_calib_t &pt4, bool &pass_pt1,
                    bool &pass_pt4) {
#pragma HLS PIPELINE II=1
    pt_calib_t s[N_CLUSTERS];
#pragma HLS ARRAY_PARTITION variable=s complete
sort_load:
    for (int k = 0; k < N_CLUSTERS; k++) {
        s[k] = pt_calib[k];
        pt_calib_out[k] = pt_calib[k];
    }
sort_stages:
    for (int stage = 0; stage < N_CLUSTERS; stage++) {
    sort_exchange:
        for (int k = stage % 2; k + 1 < N_CLUSTERS; k += 2) {
            if (s[k] < s[k + 1]) {
                const pt_calib_t tmp = s[k];
                s[k] = s[k + 1];
                s[k + 1] = tmp;
            }
        }
    }
sort_store:
    for (int k = 0; k < N_CLUSTERS; k++) sorted_pt[k] = s[k];
    pt1 = s[0];
    pt4 = s[3];
    pass_pt1 = s[0] >= TRIGGER_T1;
    pass_pt4 = s[3] >= TRIGGER_T4;
}

#endif
