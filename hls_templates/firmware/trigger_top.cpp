// Top functions of the trigger chain: decoder -> CNN -> clusterer -> calibration -> trigger.
// {{ banner }}
#include "trigger_top.h"

#include "calibration.h"
#include "clusterer.h"
#include "cnn.h"
#include "csim_trace.h"
#include "quantiser.h"
#include "trigger.h"

#ifndef __SYNTHESIS__
csim_trace_t *csim_trace = 0;
#endif

void detector_encode(const et_in_t et[N_LAYERS][PIX_PAR], code_word_t &codes) {
#pragma HLS PIPELINE II=1
#pragma HLS ARRAY_PARTITION variable=et complete dim=0
    encode_word(et, codes);
}

void trigger_top(hls::stream<code_word_t> &codes, cluster_pt_t cluster_pt[N_CLUSTERS],
                 eta_idx_t cluster_ieta[N_CLUSTERS], phi_idx_t cluster_iphi[N_CLUSTERS], count_t &n_clusters,
                 pt_calib_t pt_calib[N_CLUSTERS], pt_calib_t sorted_pt[N_CLUSTERS], pt_calib_t &pt1,
                 pt_calib_t &pt4, bool &pass_pt1, bool &pass_pt4) {
#pragma HLS INTERFACE mode=axis port=codes
#pragma HLS ARRAY_PARTITION variable=cluster_pt complete
#pragma HLS ARRAY_PARTITION variable=cluster_ieta complete
#pragma HLS ARRAY_PARTITION variable=cluster_iphi complete
#pragma HLS ARRAY_PARTITION variable=pt_calib complete
#pragma HLS ARRAY_PARTITION variable=sorted_pt complete
#pragma HLS DATAFLOW
    hls::stream<et_word_t> et_dec("et_dec");
    hls::stream<pred_word_t> et_pred("et_pred");
#pragma HLS STREAM variable=et_dec depth=2
#pragma HLS STREAM variable=et_pred depth=2
    cluster_pt_t pt[N_CLUSTERS];
    eta_idx_t ieta[N_CLUSTERS];
    phi_idx_t iphi[N_CLUSTERS];
    count_t n;
    pt_calib_t calib[N_CLUSTERS];

    decode(codes, et_dec);
    cnn(et_dec, et_pred);
    cluster(et_pred, pt, ieta, iphi, n);
    calibrate(pt, ieta, iphi, n, cluster_pt, cluster_ieta, cluster_iphi, n_clusters, calib);
    trigger(calib, pt_calib, sorted_pt, pt1, pt4, pass_pt1, pass_pt4);
}
