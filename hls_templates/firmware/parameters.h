// Constants of the trained model (LUTs, weights, thresholds), defined in parameters.cpp.
// {{ banner }}
//
// Kept in their own translation unit so that a new bundle for the same spec rebuilds only
// parameters.cpp; Vitis HLS links all sources before synthesis, so these are still ROM
// contents and constant multiplicands there.
#ifndef CODESIGN_PARAMETERS_H
#define CODESIGN_PARAMETERS_H

#include "defines.h"

{% for a in arrays %}
extern const {{ a.ctype }} {{ a.name }}{{ a.dims }};  // {{ a.source }}
{% endfor %}

#endif
