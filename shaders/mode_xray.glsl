// xray: average intensity along the ray, windowed: a radiograph-like projection.
#include "ownscan/average"
