/* Instantiates gemm_simd.tmpl.h twice for the ISA and dtype the including file
 * set up: FC_UKERNEL_WIDE (two vectors per row) and FC_UKERNEL_NARROW (one
 * vector per row, for products with few columns); with FC_MR 12, twice more
 * with 6 rows, as <name>_half (the edge tiles of at most 6 rows). */
#if !defined(FC_UKERNEL_WIDE) || !defined(FC_UKERNEL_NARROW)
#error "gemm_pair.tmpl.h: define FC_UKERNEL_WIDE and FC_UKERNEL_NARROW (fc_uk_<registry name>) first"
#endif
#define FC_HALF_NAME_(name) name##_half
#define FC_HALF_NAME(name) FC_HALF_NAME_(name)

#define FC_NV 2
#define FC_UKERNEL FC_UKERNEL_WIDE
#include "gemm_simd.tmpl.h"
#undef FC_NV
#undef FC_UKERNEL

#define FC_NV 1
#define FC_UKERNEL FC_UKERNEL_NARROW
#include "gemm_simd.tmpl.h"
#undef FC_NV
#undef FC_UKERNEL

#if FC_MR == 12
#undef FC_MR
#define FC_MR 6
#define FC_NV 2
#define FC_UKERNEL FC_HALF_NAME(FC_UKERNEL_WIDE)
#include "gemm_simd.tmpl.h"
#undef FC_NV
#undef FC_UKERNEL

#define FC_NV 1
#define FC_UKERNEL FC_HALF_NAME(FC_UKERNEL_NARROW)
#include "gemm_simd.tmpl.h"
#undef FC_NV
#undef FC_UKERNEL
#undef FC_MR
#define FC_MR 12
#endif
