/* Convolution for float32 and float64: instantiates conv_impl.h twice. */
#include <assert.h>
#include <string.h>
#include "fastconv/activation.h"
#include "fastconv/internal.h"

#define FC_TEMPLATE "conv_impl.h"
#include "instantiate.h"
