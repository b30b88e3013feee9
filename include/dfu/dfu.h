/* dfush public C API: the umbrella header. */
#ifndef DFU_DFU_H
#define DFU_DFU_H

#include "dfu/device.h"
#include "dfu/err.h"
#include "dfu/image.h"
#include "dfu/layout.h"
#include "dfu/log.h"
#include "dfu/sim.h"
#include "dfu/transport.h"

#define DFU_VERSION "0.1.0"

#endif
