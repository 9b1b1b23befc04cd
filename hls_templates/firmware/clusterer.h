// Cone clusterer (SEMANTICS.md section 5): local maxima of E_pred in the rounded window,
// exact window sums, top N_CLUSTERS by pT.
// {{ banner }}
//
// A WINDOW-row line buffer (plus the row streaming in) holds rows i-WIN_R .. i+WIN_R; row i
// is evaluated, PIX_PAR pixels per clock, while row i+WIN_R+1 streams in (phi is cyclic, so
// row i+WIN_R must be complete). Seeds arrive in raster order and enter a compare-and-shift
// insertion network that keeps the list sorted: a new cluster moves ahead only of strictly
// smaller pT, so equal pT keeps the lower raster index first.
#ifndef CODESIGN_CLUSTERER_H
#define CODESIGN_CLUSTERER_H

#include "csim_trace.h"
#include "defines.h"
#include "parameters.h"

// Ring-buffer slot of row (slot + d) for |d| < CL_LB_ROWS.
static int ring(int slot, int d) {
#pragma HLS INLINE
    int s = slot + d;
    if (s < 0) s += CL_LB_ROWS;
    if (s >= CL_LB_ROWS) s -= CL_LB_ROWS;
    return s;
}

// Insert (pt, eta, phi) into the sorted top list: slot k takes the new cluster when it beats
// slot k (or slot k is empty) and slot k-1 did not; it takes slot k-1's content when both did.
static void top_insert(cluster_pt_t pt, eta_idx_t eta, phi_idx_t phi, cluster_pt_t top_pt[N_CLUSTERS],
                       eta_idx_t top_eta[N_CLUSTERS], phi_idx_t top_phi[N_CLUSTERS], count_t &found) {
#pragma HLS INLINE
    bool wins[N_CLUSTERS];
top_compare:
    for (int k = 0; k < N_CLUSTERS; k++) wins[k] = k >= found || pt > top_pt[k];
top_shift:
    for (int k = N_CLUSTERS - 1; k >= 0; k--) {
        if (wins[k]) {
            const bool shift = k > 0 && wins[k - 1];
            top_pt[k] = shift ? top_pt[k - 1] : pt;
            top_eta[k] = shift ? top_eta[k - 1] : eta;
            top_phi[k] = shift ? top_phi[k - 1] : phi;
        }
    }
    if (found < N_CLUSTERS) found++;
}

static void cluster(hls::stream<pred_word_t> &et_pred, cluster_pt_t pt[N_CLUSTERS], eta_idx_t ieta[N_CLUSTERS],
                    phi_idx_t iphi[N_CLUSTERS], count_t &n_clusters) {
    static et_pred_t lb[CL_LB_ROWS][PHI_BINS];
#pragma HLS ARRAY_PARTITION variable=lb complete dim=0
    cluster_pt_t top_pt[N_CLUSTERS];
    eta_idx_t top_eta[N_CLUSTERS];
    phi_idx_t top_phi[N_CLUSTERS];
#pragma HLS ARRAY_PARTITION variable=top_pt complete
#pragma HLS ARRAY_PARTITION variable=top_eta complete
#pragma HLS ARRAY_PARTITION variable=top_phi complete
    count_t found = 0;
top_clear:
    for (int k = 0; k < N_CLUSTERS; k++) {
        top_pt[k] = 0;
        top_eta[k] = 0;
        top_phi[k] = 0;
    }
    int in_slot = 0;  // ring slot of the row streaming in
cluster_stream:
    for (int t = 0; t < (ETA_BINS + WIN_R + 1) * GROUPS_PER_ROW; t++) {
#pragma HLS PIPELINE II=1
        const int r = t / GROUPS_PER_ROW;
        const int g = t % GROUPS_PER_ROW;
        const int j0 = g * PIX_PAR;
        if (r < ETA_BINS) {
            pred_word_t in = et_pred.read();
        cluster_store:
            for (int p = 0; p < PIX_PAR; p++) lb[in_slot][j0 + p] = in.e[p];
        }
        if (r > WIN_R) {
            const int i = r - (WIN_R + 1);
            const int slot = ring(in_slot, -(WIN_R + 1));
        cluster_pixels:
            for (int p = 0; p < PIX_PAR; p++) {
                const int j = j0 + p;
                const et_pred_t v = lb[slot][j];
                bool seed = v > SEED_THRESHOLD;
                cluster_pt_t sum = v;
            cluster_window:
                for (int k = 0; k < N_NEIGHBOURS; k++) {
                    const int ii = i + WIN_DETA[k];
                    if (ii >= 0 && ii < ETA_BINS) {
                        int jj = j + WIN_DPHI[k];  // phi is cyclic
                        if (jj < 0) jj += PHI_BINS;
                        if (jj >= PHI_BINS) jj -= PHI_BINS;
                        const et_pred_t q = lb[ring(slot, WIN_DETA[k])][jj];
                        sum += q;
                        if (WIN_AFTER[k] ? q > v : q >= v) seed = false;
                    }
                }
                CSIM_RECORD(seeds[i][j], seed);
                if (seed) top_insert(sum, i, j, top_pt, top_eta, top_phi, found);
            }
        }
        if (g == GROUPS_PER_ROW - 1) in_slot = ring(in_slot, 1);
    }
out_copy:
    for (int k = 0; k < N_CLUSTERS; k++) {
        pt[k] = top_pt[k];
        ieta[k] = top_eta[k];
        iphi[k] = top_phi[k];
    }
    n_clusters = found;
}

#endif
