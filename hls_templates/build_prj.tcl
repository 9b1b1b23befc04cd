# Vitis HLS (or Vivado HLS) project of the trigger chain.
# {{ banner }}
# {{ bundle_banner }}
#
# usage, from this directory:
#   vitis_hls -f build_prj.tcl                        C synthesis of trigger_top
#   vitis_hls -f build_prj.tcl -tclargs csim          C simulation first (tb_data/et_in.dat -> csim_out/)
#   vitis_hls -f build_prj.tcl -tclargs csim cosim    and C/RTL co-simulation after it (-> cosim_out/)
# (codesign build's csynth step runs the last one when vitis_hls or vivado_hls is on PATH)
# The part is the build target, the clock the spec's target clock.
set part {{ part }}
set clock_period {{ clock_period_ns }}
set top trigger_top
set cflags "-std=c++14 -I[file normalize firmware]"

open_project -reset {{ project_name }}
set_top $top
add_files firmware/trigger_top.cpp -cflags $cflags
add_files firmware/parameters.cpp -cflags $cflags
add_files -tb tb/csim_tb.cpp -cflags $cflags
add_files -tb tb_data

# Vitis HLS targets the Vivado flow explicitly; Vivado HLS has no -flow_target.
if {[catch {open_solution -reset solution1 -flow_target vivado}]} {
    open_solution -reset solution1
}
set_part $part
create_clock -period $clock_period -name default

if {[lsearch -exact $argv csim] >= 0} {
    file mkdir csim_out
    csim_design -argv "[file normalize tb_data/et_in.dat] [file normalize csim_out]"
}
csynth_design
if {[lsearch -exact $argv cosim] >= 0} {
    file mkdir cosim_out
    cosim_design -argv "[file normalize tb_data/et_in.dat] [file normalize cosim_out]"
}
exit
