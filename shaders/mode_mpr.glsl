// mpr: a slice (one sample on the plane) or a thick slab (the mean across it), windowed.
// The skeleton cuts each ray to the slab (MODE_SLAB); the slice plane faces the camera.
#include "ownscan/average"
