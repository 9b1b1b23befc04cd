// CNN pile-up denoiser (SEMANTICS.md section 4) as a pixel stream, PIX_PAR pixels per clock.
// {{ banner }}
//
// Depthwise 3x3 (eta, phi)-symmetric kernel from four tap-group sums, ReLU, features +
// log|eta|, Dense 32 ReLU, Dense 32 ReLU, Dense 2, hard sigmoid -> w; E_pred = sum_l w_l * E_l.
// Rows are buffered whole because phi is cyclic: pixel (i, 0) needs (i+1, PHI_BINS-1), so
// row i is computed while row i+2 streams in (eta rows -1 and ETA_BINS are zero).
#ifndef CODESIGN_CNN_H
#define CODESIGN_CNN_H

#include "csim_trace.h"
#include "defines.h"
#include "parameters.h"

static const ap_ufixed<1, 0> HALF = 0.5;

// The per-pixel network: tap-group sums of both layers -> segmentation weights and E_pred.
static void cnn_pixel(const tap_sum_t taps[N_LAYERS][N_TAPS], const et_dec_t centre[N_LAYERS], int row,
                      conv_act_t conv[N_CONV], seg_w_t seg[N_LAYERS], et_pred_t &e_pred) {
#pragma HLS INLINE
conv_channels:
    for (int l = 0; l < N_LAYERS; l++) {
        for (int m = 0; m < DEPTH_MULT; m++) {
            conv_acc_t acc = CONV_BIAS[l][m];
        conv_taps:
            for (int t = 0; t < N_TAPS; t++) acc += CONV_KERNEL[l][m][t] * taps[l][t];
            if (acc < 0) acc = 0;
            conv[l * DEPTH_MULT + m] = acc;  // ReLU, then {{ rounding }}/{{ overflow }} into conv_act_t
        }
    }

    dense_act_t h1[HIDDEN];
dense1:
    for (int h = 0; h < HIDDEN; h++) {
        dense1_acc_t acc = DENSE1_B[h];
        for (int n = 0; n < N_CONV; n++) acc += conv[n] * DENSE1_W[n][h];
        acc += LOG_ETA[row] * DENSE1_W[N_CONV][h];
        if (acc < 0) acc = 0;
        h1[h] = acc;
    }

    dense_act_t h2[HIDDEN];
dense2:
    for (int h = 0; h < HIDDEN; h++) {
        dense_acc_t acc = DENSE2_B[h];
        for (int n = 0; n < HIDDEN; n++) acc += h1[n] * DENSE2_W[n][h];
        if (acc < 0) acc = 0;
        h2[h] = acc;
    }

    pred_acc_t e = 0;
dense3_sigmoid:
    for (int o = 0; o < N_LAYERS; o++) {
        dense_acc_t acc = DENSE3_B[o];
        for (int n = 0; n < HIDDEN; n++) acc += h2[n] * DENSE3_W[n][o];
        hs_t hs = acc * HALF + HALF;  // hard sigmoid v/2 + 1/2, exact one bit finer than acc
        if (hs < 0) hs = 0;
        else if (hs > 1) hs = 1;
        seg[o] = hs;
        e += seg[o] * centre[o];  // exact
    }
    e_pred = e;
}

static void cnn(hls::stream<et_word_t> &et_dec, hls::stream<pred_word_t> &et_pred) {
    static et_dec_t lb[N_LAYERS][CNN_LB_ROWS][PHI_BINS];
#pragma HLS ARRAY_PARTITION variable=lb complete dim=1
#pragma HLS ARRAY_PARTITION variable=lb complete dim=2
#pragma HLS ARRAY_PARTITION variable=lb cyclic factor=PIX_PAR dim=3
cnn_stream:
    for (int t = 0; t < (ETA_BINS + 2) * GROUPS_PER_ROW; t++) {
#pragma HLS PIPELINE II=1
        const int r = t / GROUPS_PER_ROW;
        const int j0 = (t % GROUPS_PER_ROW) * PIX_PAR;
        if (r < ETA_BINS) {
            et_word_t in = et_dec.read();
        cnn_store:
            for (int l = 0; l < N_LAYERS; l++)
                for (int p = 0; p < PIX_PAR; p++) lb[l][r % CNN_LB_ROWS][j0 + p] = in.e[l][p];
        }
        if (r >= 2) {
            const int i = r - 2;
            const int up = (i + CNN_LB_ROWS - 1) % CNN_LB_ROWS, mid = i % CNN_LB_ROWS, dn = (i + 1) % CNN_LB_ROWS;
            const bool has_up = i > 0, has_dn = i < ETA_BINS - 1;
            pred_word_t out;
        cnn_pixels:
            for (int p = 0; p < PIX_PAR; p++) {
                const int j = j0 + p;
                const int jl = j == 0 ? PHI_BINS - 1 : j - 1;  // phi is cyclic
                const int jr = j == PHI_BINS - 1 ? 0 : j + 1;
                tap_sum_t taps[N_LAYERS][N_TAPS];
                et_dec_t centre[N_LAYERS];
                for (int l = 0; l < N_LAYERS; l++) {
                    const et_dec_t zero = 0;
                    const et_dec_t u = has_up ? lb[l][up][j] : zero, d = has_dn ? lb[l][dn][j] : zero;
                    const et_dec_t ul = has_up ? lb[l][up][jl] : zero, ur = has_up ? lb[l][up][jr] : zero;
                    const et_dec_t dl = has_dn ? lb[l][dn][jl] : zero, dr = has_dn ? lb[l][dn][jr] : zero;
                    centre[l] = lb[l][mid][j];
                    taps[l][0] = centre[l];
                    taps[l][1] = u + d;
                    taps[l][2] = lb[l][mid][jl] + lb[l][mid][jr];
                    taps[l][3] = (ul + ur) + (dl + dr);
                }
                conv_act_t conv[N_CONV];
                seg_w_t seg[N_LAYERS];
                cnn_pixel(taps, centre, i, conv, seg, out.e[p]);
                for (int c = 0; c < N_CONV; c++) CSIM_RECORD(conv_act[i][j][c], conv[c]);
                for (int l = 0; l < N_LAYERS; l++) CSIM_RECORD(seg_w[i][j][l], seg[l]);
                CSIM_RECORD(et_pred[i][j], out.e[p]);
            }
            et_pred.write(out);
        }
    }
}

#endif
