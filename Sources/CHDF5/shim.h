#ifndef TRW_CHDF5_SHIM_H
#define TRW_CHDF5_SHIM_H
// libhdf5 (Debian libhdf5-dev; headers in /usr/include/hdf5/serial, found through pkg-config `hdf5`).
// The type, property-class and flag names of hdf5.h are macros that call H5open() and read
// library globals; Swift imports neither, so this shim carries them as functions.
#include <hdf5.h>

static inline hid_t trw_h5_default(void) { return H5P_DEFAULT; }
static inline hid_t trw_h5s_all(void) { return H5S_ALL; }
static inline hsize_t trw_h5s_unlimited(void) { return H5S_UNLIMITED; }
static inline unsigned trw_h5f_acc_excl(void) { return H5F_ACC_EXCL; }
static inline hid_t trw_h5p_dataset_create(void) { return H5P_DATASET_CREATE; }
static inline hid_t trw_h5p_file_create(void) { return H5P_FILE_CREATE; }
static inline hid_t trw_h5t_c_s1(void) { return H5T_C_S1; }
// Memory (native) types.
static inline hid_t trw_h5t_native_int8(void) { return H5T_NATIVE_INT8; }
static inline hid_t trw_h5t_native_uint8(void) { return H5T_NATIVE_UINT8; }
static inline hid_t trw_h5t_native_int16(void) { return H5T_NATIVE_INT16; }
static inline hid_t trw_h5t_native_uint16(void) { return H5T_NATIVE_UINT16; }
static inline hid_t trw_h5t_native_int32(void) { return H5T_NATIVE_INT32; }
static inline hid_t trw_h5t_native_int64(void) { return H5T_NATIVE_INT64; }
static inline hid_t trw_h5t_native_float(void) { return H5T_NATIVE_FLOAT; }
static inline hid_t trw_h5t_native_double(void) { return H5T_NATIVE_DOUBLE; }
// File types: little-endian, as every reader expects.
static inline hid_t trw_h5t_std_i8le(void) { return H5T_STD_I8LE; }
static inline hid_t trw_h5t_std_u8le(void) { return H5T_STD_U8LE; }
static inline hid_t trw_h5t_std_i16le(void) { return H5T_STD_I16LE; }
static inline hid_t trw_h5t_std_u16le(void) { return H5T_STD_U16LE; }
static inline hid_t trw_h5t_std_i32le(void) { return H5T_STD_I32LE; }
static inline hid_t trw_h5t_std_i64le(void) { return H5T_STD_I64LE; }
static inline hid_t trw_h5t_ieee_f32le(void) { return H5T_IEEE_F32LE; }
static inline hid_t trw_h5t_ieee_f64le(void) { return H5T_IEEE_F64LE; }
// Quiet the library's automatic error printing: trw reports errors itself.
static inline herr_t trw_h5e_quiet(void) { return H5Eset_auto2(H5E_DEFAULT, NULL, NULL); }

#endif
