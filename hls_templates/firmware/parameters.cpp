// Constants of the trained model, from the firmware bundle (exact decimal values of its raw integers).
// {{ banner }}
// {{ bundle_banner }}
#include "parameters.h"

{% for a in arrays %}
// {{ a.source }}: {{ a.fmt }}
const {{ a.ctype }} {{ a.name }}{{ a.dims }} = {{ a.init }};

{% endfor %}
