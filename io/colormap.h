/*
 * io/colormap.h - perceptual colour maps [0,1] -> 8-bit sRGB.
 *
 * Two 256-entry tables, copied exactly from matplotlib 3.6
 * (matplotlib/_cm_listed.py, `_viridis_data` and `_turbo_data`; the file
 * io/colormap.c says where each comes from and under which licence):
 *   COLORMAP_TURBO    Google's Turbo (Mikhailov 2019): jet-like red = high,
 *                     but smooth in lightness; the default for Grad-CAM.
 *   COLORMAP_VIRIDIS  matplotlib's viridis (van der Walt & Smith 2015),
 *                     perceptually uniform, readable in grayscale.
 * Lookup as matplotlib's ListedColormap(N=256) does: v in [0,1] selects
 * entry floor(v * 256), clamped to 0..255 (v = 1 gives entry 255); v < 0
 * gives entry 0, v > 1 entry 255. NaN gives COLORMAP_NAN_GRAY (mid gray).
 * Floats become bytes by rounding (v * 255 + 0.5); matplotlib's own
 * `bytes=True` truncates, so its bytes can be 1 lower.
 */
#ifndef GC_IO_COLORMAP_H
#define GC_IO_COLORMAP_H

#define COLORMAP_SIZE 256
#define COLORMAP_NAN_GRAY 128

typedef enum colormap_kind {
    COLORMAP_TURBO = 0,
    COLORMAP_VIRIDIS = 1
} colormap_kind;

/* rgb <- colour of v under the map (see above for v outside [0,1], NaN). */
void colormap_rgb(unsigned char rgb[3], colormap_kind kind, double v);

/* The published float entry i (0..255) of the table, channel c (0..2). */
double colormap_entry(colormap_kind kind, int i, int c);

/* "turbo" / "viridis". */
const char *colormap_name(colormap_kind kind);

/* Parse "turbo" / "viridis" into *kind: 0 on success, -1 if unknown. */
int colormap_parse(const char *name, colormap_kind *kind);

#endif
