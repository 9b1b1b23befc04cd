// Top functions: the trigger FPGA chain (codes in, trigger decision out) and the detector-side encoder.
// {{ banner }}
#ifndef CODESIGN_TRIGGER_TOP_H
#define CODESIGN_TRIGGER_TOP_H

#include "defines.h"

// Detector side: PIX_PAR cells of every layer -> one word of quantiser codes for the link.
void detector_encode(const et_in_t et[N_LAYERS][PIX_PAR], code_word_t &codes);

// Trigger FPGA: one event of codes (N_PIXELS / PIX_PAR words, raster order) -> clusters,
// calibrated pT, sorted pT and the two trigger decisions.
void trigger_top(hls::stream<code_word_t> &codes, cluster_pt_t cluster_pt[N_CLUSTERS],
                 eta_idx_t cluster_ieta[N_CLUSTERS], phi_idx_t cluster_iphi[N_CLUSTERS], count_t &n_clusters,
                 pt_calib_t pt_calib[N_CLUSTERS], pt_calib_t sorted_pt[N_CLUSTERS], pt_calib_t &pt1,
                 pt_calib_t &pt4, bool &pass_pt1, bool &pass_pt4);

#endif
