"""GLSL sources of the ray-caster, shipped as package data (see ``ownscan.core.render``)."""
