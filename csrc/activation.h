/* Scalar activations, shared by the element-wise kernels and the fused
 * GEMM/conv epilogue.  NaN propagates through every branch. */
#ifndef FASTCONV_ACTIVATION_H
#define FASTCONV_ACTIVATION_H

#include <math.h>
#include <stdint.h>
#include "fastconv/fastconv.h"

#define FC_DEFINE_ACTIVATION(T, SFX, EXP, TANH)                                    \
    static inline T fc_sigmoid_##SFX(T v) {                                        \
        /* exp of a non-positive number only, so nothing overflows. */            \
        if (v >= 0) return (T)1 / ((T)1 + EXP(-v));                                \
        T e = EXP(v);                                                              \
        return e / ((T)1 + e);                                                     \
    }                                                                              \
    static inline T fc_activate_##SFX(T v, int act, T alpha) {                     \
        switch (act) {                                                             \
        case FC_ACT_RELU: return v < 0 ? (T)0 : v;                                 \
        case FC_ACT_LEAKY_RELU: return v < 0 ? alpha * v : v;                      \
        case FC_ACT_SIGMOID: return fc_sigmoid_##SFX(v);                           \
        case FC_ACT_TANH: return TANH(v);                                          \
        default: return v;                                                         \
        }                                                                          \
    }                                                                              \
    /* dL/dx from dL/dy and x (relu, leaky_relu) or y (sigmoid, tanh). */         \
    static inline T fc_activate_grad_##SFX(T dy, T xy, int act, T alpha) {         \
        switch (act) {                                                             \
        case FC_ACT_RELU: return xy > 0 ? dy : (T)0;                               \
        case FC_ACT_LEAKY_RELU: return xy > 0 ? dy : alpha * dy;                    \
        case FC_ACT_SIGMOID: return dy * xy * ((T)1 - xy);                         \
        case FC_ACT_TANH: return dy * ((T)1 - xy * xy);                            \
        default: return dy;                                                        \
        }                                                                          \
    }                                                                              \
    /* y[i] = act(x[i]) for n values (y may be x); the activation is chosen   */  \
    /* outside the loops so the ReLU-like ones vectorise.                      */  \
    static inline void fc_activate_array_##SFX(const T *x, T *y, int64_t n, int act, \
                                               T alpha) {                          \
        switch (act) {                                                             \
        case FC_ACT_NONE:                                                          \
            if (y != x)                                                            \
                for (int64_t i = 0; i < n; i++) y[i] = x[i];                       \
            return;                                                                \
        case FC_ACT_RELU:                                                          \
            for (int64_t i = 0; i < n; i++) y[i] = x[i] < 0 ? (T)0 : x[i];         \
            return;                                                                \
        case FC_ACT_LEAKY_RELU:                                                    \
            for (int64_t i = 0; i < n; i++) y[i] = x[i] < 0 ? alpha * x[i] : x[i]; \
            return;                                                                \
        default:                                                                   \
            for (int64_t i = 0; i < n; i++) y[i] = fc_activate_##SFX(x[i], act, alpha); \
        }                                                                          \
    }

FC_DEFINE_ACTIVATION(float, f32, expf, tanhf)
FC_DEFINE_ACTIVATION(double, f64, exp, tanh)

#endif
