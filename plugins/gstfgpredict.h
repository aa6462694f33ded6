// fgpredict: frame-rate conversion, low-latency extrapolation and concealment of
// missing frames. A GstElement with one sink and one source pad: it emits a
// different number of buffers than it receives, with exact timestamps computed
// from the target rate (never index / fps accumulated in floating point).
#pragma once

#include <gst/gst.h>

G_BEGIN_DECLS

#define GST_TYPE_FG_PREDICT (gst_fg_predict_get_type())
G_DECLARE_FINAL_TYPE(GstFgPredict, gst_fg_predict, GST, FG_PREDICT, GstElement)

GST_ELEMENT_REGISTER_DECLARE(fgpredict);

G_END_DECLS
