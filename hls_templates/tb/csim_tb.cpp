// C-simulation testbench: reads events, runs the detector encoder and the trigger chain, and
// writes every output and per-block intermediate as raw integers for the comparison with the
// emulator. {{ banner }}
//
// usage: csim_tb EVENTS_FILE OUT_DIR
//   EVENTS_FILE: one event per line, N_LAYERS x ETA_BINS x PHI_BINS raw et_in integers
//                (layer, eta row, phi column order).
//   OUT_DIR/<name>.dat: one line per event for each output opened in main, raw integers, in the
//                emulator's array order.
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "csim_trace.h"
#include "trigger_top.h"

// One output file: a line of raw integers per event.
struct Output {
    FILE *f;
    bool first;
    Output(const char *dir, const char *name) : first(true) {
        const std::string path = std::string(dir) + "/" + name + ".dat";
        f = std::fopen(path.c_str(), "w");
        if (!f) {
            std::fprintf(stderr, "csim_tb: cannot write %s\n", path.c_str());
            std::exit(2);
        }
    }
    ~Output() { std::fclose(f); }
    void put(long long v) {
        std::fprintf(f, first ? "%lld" : " %lld", v);
        first = false;
    }
    void end_event() {
        std::fputc('\n', f);
        first = true;
    }
    void values(const long long *a, size_t n) {
        for (size_t q = 0; q < n; q++) put(a[q]);
        end_event();
    }
    template <typename T>
    void list(const T a[N_CLUSTERS]) {
        for (int q = 0; q < N_CLUSTERS; q++) put(raw_bits(a[q]));
        end_event();
    }
    template <typename T>
    void scalar(const T &v) {
        put(raw_bits(v));
        end_event();
    }
};

static csim_trace_t trace;
static long long et_in_raw[N_LAYERS][ETA_BINS][PHI_BINS];
static long long codes_raw[N_LAYERS][ETA_BINS][PHI_BINS];

// Reads one event; false at the end of the file, exits on a malformed line.
static bool read_event(FILE *f, long events) {
    for (int l = 0; l < N_LAYERS; l++)
        for (int i = 0; i < ETA_BINS; i++)
            for (int j = 0; j < PHI_BINS; j++) {
                if (std::fscanf(f, "%lld", &et_in_raw[l][i][j]) != 1) {
                    if (l == 0 && i == 0 && j == 0 && std::feof(f)) return false;
                    std::fprintf(stderr, "csim_tb: event %ld is truncated or malformed\n", events);
                    std::exit(2);
                }
            }
    return true;
}

int main(int argc, char **argv) {
    if (argc != 3) {
        std::fprintf(stderr, "usage: %s EVENTS_FILE OUT_DIR\n", argv[0]);
        return 2;
    }
    FILE *in = std::fopen(argv[1], "r");
    if (!in) {
        std::fprintf(stderr, "csim_tb: cannot open %s\n", argv[1]);
        return 2;
    }
    const char *dir = argv[2];
    Output codes_out(dir, "codes"), et_dec_out(dir, "et_dec"), conv_act_out(dir, "conv_act"), seg_w_out(dir, "seg_w"),
        et_pred_out(dir, "et_pred"), seeds_out(dir, "seeds"), cluster_pt_out(dir, "cluster_pt"),
        cluster_ieta_out(dir, "cluster_ieta"), cluster_iphi_out(dir, "cluster_iphi"),
        n_clusters_out(dir, "n_clusters"), pt_calib_out(dir, "pt_calib"), sorted_pt_out(dir, "sorted_pt"),
        pt1_out(dir, "pt1"), pt4_out(dir, "pt4"), pass_pt1_out(dir, "pass_pt1"), pass_pt4_out(dir, "pass_pt4");
    csim_trace = &trace;
    long events = 0;
    while (read_event(in, events)) {
        std::memset(&trace, 0, sizeof trace);
        hls::stream<code_word_t> codes("codes");
        for (int i = 0; i < ETA_BINS; i++)
            for (int j0 = 0; j0 < PHI_BINS; j0 += PIX_PAR) {
                et_in_t et[N_LAYERS][PIX_PAR];
                for (int l = 0; l < N_LAYERS; l++)
                    for (int p = 0; p < PIX_PAR; p++) {
                        const long long raw = et_in_raw[l][i][j0 + p];
                        if (raw < 0 || raw >= (1LL << et_in_t::width)) {
                            std::fprintf(stderr, "csim_tb: event %ld: E_T raw value %lld outside et_in_t\n", events, raw);
                            return 2;
                        }
                        et[l][p].range(et_in_t::width - 1, 0) = raw;
                    }
                code_word_t word;
                detector_encode(et, word);
                for (int l = 0; l < N_LAYERS; l++)
                    for (int p = 0; p < PIX_PAR; p++) codes_raw[l][i][j0 + p] = raw_bits(word.c[l][p]);
                codes.write(word);
            }

        cluster_pt_t cluster_pt[N_CLUSTERS];
        eta_idx_t cluster_ieta[N_CLUSTERS];
        phi_idx_t cluster_iphi[N_CLUSTERS];
        count_t n_clusters;
        pt_calib_t pt_calib[N_CLUSTERS], sorted_pt[N_CLUSTERS], pt1, pt4;
        bool pass_pt1, pass_pt4;
        trigger_top(codes, cluster_pt, cluster_ieta, cluster_iphi, n_clusters, pt_calib, sorted_pt, pt1, pt4,
                    pass_pt1, pass_pt4);

        const size_t image = (size_t)ETA_BINS * PHI_BINS;
        codes_out.values(&codes_raw[0][0][0], N_LAYERS * image);
        et_dec_out.values(&trace.et_dec[0][0][0], N_LAYERS * image);
        conv_act_out.values(&trace.conv_act[0][0][0], image * N_CONV);
        seg_w_out.values(&trace.seg_w[0][0][0], image * N_LAYERS);
        et_pred_out.values(&trace.et_pred[0][0], image);
        seeds_out.values(&trace.seeds[0][0], image);
        cluster_pt_out.list(cluster_pt);
        cluster_ieta_out.list(cluster_ieta);
        cluster_iphi_out.list(cluster_iphi);
        n_clusters_out.scalar(n_clusters);
        pt_calib_out.list(pt_calib);
        sorted_pt_out.list(sorted_pt);
        pt1_out.scalar(pt1);
        pt4_out.scalar(pt4);
        pass_pt1_out.scalar(pass_pt1);
        pass_pt4_out.scalar(pass_pt4);
        events++;
    }
    std::fclose(in);
    std::printf("csim_tb: %ld events\n", events);
    return 0;
}
