// fgsuperres: neural (or classical) super-resolution as a GstVideoFilter.
// A thin GObject shell around framegen::SuperResolution: the model is loaded in
// start(), freed in stop(), reused across renegotiations; every C++ exception is
// caught at the vfunc boundary and posted as an element error.
#pragma once

#include <gst/video/gstvideofilter.h>

G_BEGIN_DECLS

#define GST_TYPE_FG_SUPERRES (gst_fg_superres_get_type())
G_DECLARE_FINAL_TYPE(GstFgSuperres, gst_fg_superres, GST, FG_SUPERRES, GstVideoFilter)

GST_ELEMENT_REGISTER_DECLARE(fgsuperres);

G_END_DECLS
