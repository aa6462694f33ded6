// The framegen GStreamer plugin: registers the elements, nothing else.
#include <gst/gst.h>

#include "gstfgpredict.h"
#include "gstfgsuperres.h"

static gboolean plugin_init(GstPlugin* plugin) {
  gboolean ok = FALSE;
  ok |= GST_ELEMENT_REGISTER(fgsuperres, plugin);
  ok |= GST_ELEMENT_REGISTER(fgpredict, plugin);
  return ok;
}

#define PACKAGE "framegen"
GST_PLUGIN_DEFINE(GST_VERSION_MAJOR, GST_VERSION_MINOR, framegen,
                  "framegen: neural super-resolution and frame prediction", plugin_init, "0.1.0", "LGPL", "framegen",
                  "https://framegen.invalid/")
