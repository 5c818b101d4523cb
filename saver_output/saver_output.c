//==============================================================================
//
//  Copyright (c) 2020-2023 Qualcomm Technologies, Inc.
//  All Rights Reserved.
//  Confidential and Proprietary - Qualcomm Technologies, Inc.
//
//==============================================================================

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "QnnInterface.h"

#define VALIDATE(res, value) \
   do { \
      if (res == 0 || res == QNN_COMMON_ERROR_NOT_SUPPORTED) \
      { \
         res = value; \
         if (res != 0) \
         { \
            if (res == QNN_COMMON_ERROR_NOT_SUPPORTED) \
            { \
               printf("WARNING! Line %d QNN feature/API not supported\n", __LINE__); \
            } else { \
               printf("ERROR! Line %d with error value: %d\n", __LINE__, (unsigned int)error); \
            } \
         } \
      } \
   } \
   while(0)

int main(int argc, char** argv) {
   Qnn_ErrorHandle_t error = 0;
   QnnLog_Level_t logLevel = QNN_LOG_LEVEL_ERROR;
   int logging = 0;
   for (int i = 1; i < argc; i++) {
     char* arg = argv[i];
     if (!strcmp("--logging", arg) || !strcmp("-l", arg)) {
       logging = 1;
       if (i+1 == argc) {
         printf("No log level provided, defaulting to QNN_LOG_LEVEL_ERROR\n");
         break;
       }
       char* value = argv[++i];
       if (!strcmp("error", value)) {
         logLevel = QNN_LOG_LEVEL_ERROR;
       } else if (!strcmp("warn", value)) {
         logLevel = QNN_LOG_LEVEL_WARN;
       } else if (!strcmp("info", value)) {
         logLevel = QNN_LOG_LEVEL_INFO;
       } else if (!strcmp("debug", value)) {
         logLevel = QNN_LOG_LEVEL_DEBUG;
       } else if (!strcmp("verbose", value)) {
         logLevel = QNN_LOG_LEVEL_VERBOSE;
       } else {
         printf("WARNING: Unknown log level provided: %s, defaulting to QNN_LOG_LEVEL_ERROR\n", value);
       }
     } else {
       printf("Usage: %s [options]\n\n"
              "-l <level>, --logging <level>      Enable logging, acceptable levels are: error,warn,info,debug,verbose\n", argv[0]);
       return -1;
     }
   }

   FILE* fp = fopen("params.bin", "rb");
   if (!fp) {
     error = -1;
     printf("ERROR! Could not open params.bin, ensure this file is in the current working directory when executing this program.\n");
     return error;
   }

   const QnnInterface_t** providerList = NULL;
   uint32_t numProviders;
   VALIDATE(error, QnnInterface_getProviders(&providerList, &numProviders));
   QNN_INTERFACE_VER_TYPE interface = providerList[0]->QNN_INTERFACE_VER_NAME;

   Qnn_LogHandle_t loghandle= NULL;
   if (logging) {
     VALIDATE(error, interface.logCreate(NULL, logLevel, &loghandle));
   }

   const QnnBackend_Config_t* backend_0_config_0[] = {NULL};
   Qnn_BackendHandle_t backend_0;
   VALIDATE(error, interface.backendCreate(loghandle, backend_0_config_0, &backend_0));

   VALIDATE(error, interface.propertyHasCapability((QnnProperty_Key_t)1501));

   const QnnDevice_Config_t* device_0_config_0[] = {NULL};
   Qnn_DeviceHandle_t device_0;
   VALIDATE(error, interface.deviceCreate(loghandle, device_0_config_0, &device_0));

   const QnnContext_Config_t* context_0_config_0[] = {NULL};
   Qnn_ContextHandle_t context_0;
   VALIDATE(error, interface.contextCreate(backend_0, device_0, context_0_config_0, &context_0));

   Qnn_Param_t* x_quant_0_params = NULL;
   uint32_t x_quant_0_input_0_dims[] = {1, 3, 16, 16};
   Qnn_QuantizeParams_t x_quant_0_input_0_quantizeParams = {(Qnn_Definition_t)2147483647, (Qnn_QuantizationEncoding_t)2147483647, .scaleOffsetEncoding = {0.0, 0}};
   Qnn_ClientBuffer_t x_quant_0_input_0_clientBuf = {NULL, 0};
   Qnn_TensorV1_t x_quant_0_input_0_v1 = {0, "x", (Qnn_TensorType_t)0, 0, (Qnn_DataType_t)562, x_quant_0_input_0_quantizeParams, 4, x_quant_0_input_0_dims, (Qnn_TensorMemType_t)0, x_quant_0_input_0_clientBuf};
   Qnn_Tensor_t x_quant_0_input_0 = {(Qnn_TensorVersion_t)1, .v1 = x_quant_0_input_0_v1};

   Qnn_Tensor_t x_quant_0_inputs[] = {x_quant_0_input_0};
   uint32_t x_quant_0_output_0_dims[] = {1, 3, 16, 16};
   Qnn_QuantizeParams_t x_quant_0_output_0_quantizeParams = {(Qnn_Definition_t)1, (Qnn_QuantizationEncoding_t)0, .scaleOffsetEncoding = {0.00392156886, 0}};
   Qnn_ClientBuffer_t x_quant_0_output_0_clientBuf = {NULL, 0};
   Qnn_TensorV1_t x_quant_0_output_0_v1 = {0, "x_q", (Qnn_TensorType_t)3, 0, (Qnn_DataType_t)1032, x_quant_0_output_0_quantizeParams, 4, x_quant_0_output_0_dims, (Qnn_TensorMemType_t)0, x_quant_0_output_0_clientBuf};
   Qnn_Tensor_t x_quant_0_output_0 = {(Qnn_TensorVersion_t)1, .v1 = x_quant_0_output_0_v1};

   Qnn_Tensor_t x_quant_0_outputs[] = {x_quant_0_output_0};
   Qnn_OpConfigV1_t x_quant_0_v1 = {"x_quant", "qti.aisw", "Quantize", 0, x_quant_0_params, 1, x_quant_0_inputs, 1, x_quant_0_outputs};
   Qnn_OpConfig_t x_quant_0 = {(Qnn_OpConfigVersion_t)1, .v1 = x_quant_0_v1};
   VALIDATE(error, interface.backendValidateOpConfig(backend_0, x_quant_0));

   Qnn_Param_t* y_dequant_0_params = NULL;
   uint32_t y_dequant_0_input_0_dims[] = {1, 8, 16, 16};
   Qnn_QuantizeParams_t y_dequant_0_input_0_quantizeParams = {(Qnn_Definition_t)1, (Qnn_QuantizationEncoding_t)0, .scaleOffsetEncoding = {0.0199999996, 0}};
   Qnn_ClientBuffer_t y_dequant_0_input_0_clientBuf = {NULL, 0};
   Qnn_TensorV1_t y_dequant_0_input_0_v1 = {0, "y_q", (Qnn_TensorType_t)3, 0, (Qnn_DataType_t)1032, y_dequant_0_input_0_quantizeParams, 4, y_dequant_0_input_0_dims, (Qnn_TensorMemType_t)0, y_dequant_0_input_0_clientBuf};
   Qnn_Tensor_t y_dequant_0_input_0 = {(Qnn_TensorVersion_t)1, .v1 = y_dequant_0_input_0_v1};

   Qnn_Tensor_t y_dequant_0_inputs[] = {y_dequant_0_input_0};
   uint32_t y_dequant_0_output_0_dims[] = {1, 8, 16, 16};
   Qnn_QuantizeParams_t y_dequant_0_output_0_quantizeParams = {(Qnn_Definition_t)2147483647, (Qnn_QuantizationEncoding_t)2147483647, .scaleOffsetEncoding = {0.0, 0}};
   Qnn_ClientBuffer_t y_dequant_0_output_0_clientBuf = {NULL, 0};
   Qnn_TensorV1_t y_dequant_0_output_0_v1 = {0, "y", (Qnn_TensorType_t)1, 0, (Qnn_DataType_t)562, y_dequant_0_output_0_quantizeParams, 4, y_dequant_0_output_0_dims, (Qnn_TensorMemType_t)0, y_dequant_0_output_0_clientBuf};
   Qnn_Tensor_t y_dequant_0_output_0 = {(Qnn_TensorVersion_t)1, .v1 = y_dequant_0_output_0_v1};

   Qnn_Tensor_t y_dequant_0_outputs[] = {y_dequant_0_output_0};
   Qnn_OpConfigV1_t y_dequant_0_v1 = {"y_dequant", "qti.aisw", "Dequantize", 0, y_dequant_0_params, 1, y_dequant_0_inputs, 1, y_dequant_0_outputs};
   Qnn_OpConfig_t y_dequant_0 = {(Qnn_OpConfigVersion_t)1, .v1 = y_dequant_0_v1};
   VALIDATE(error, interface.backendValidateOpConfig(backend_0, y_dequant_0));

   Qnn_Param_t* x_quant_2_0_params = NULL;
   uint32_t x_quant_2_0_input_0_dims[] = {1, 3, 16, 16};
   Qnn_QuantizeParams_t x_quant_2_0_input_0_quantizeParams = {(Qnn_Definition_t)2147483647, (Qnn_QuantizationEncoding_t)2147483647, .scaleOffsetEncoding = {0.0, 0}};
   Qnn_ClientBuffer_t x_quant_2_0_input_0_clientBuf = {NULL, 0};
   Qnn_TensorV1_t x_quant_2_0_input_0_v1 = {0, "x", (Qnn_TensorType_t)0, 0, (Qnn_DataType_t)562, x_quant_2_0_input_0_quantizeParams, 4, x_quant_2_0_input_0_dims, (Qnn_TensorMemType_t)0, x_quant_2_0_input_0_clientBuf};
   Qnn_Tensor_t x_quant_2_0_input_0 = {(Qnn_TensorVersion_t)1, .v1 = x_quant_2_0_input_0_v1};

   Qnn_Tensor_t x_quant_2_0_inputs[] = {x_quant_2_0_input_0};
   uint32_t x_quant_2_0_output_0_dims[] = {1, 3, 16, 16};
   Qnn_QuantizeParams_t x_quant_2_0_output_0_quantizeParams = {(Qnn_Definition_t)1, (Qnn_QuantizationEncoding_t)0, .scaleOffsetEncoding = {0.00392156886, 0}};
   Qnn_ClientBuffer_t x_quant_2_0_output_0_clientBuf = {NULL, 0};
   Qnn_TensorV1_t x_quant_2_0_output_0_v1 = {0, "x_q", (Qnn_TensorType_t)3, 0, (Qnn_DataType_t)1032, x_quant_2_0_output_0_quantizeParams, 4, x_quant_2_0_output_0_dims, (Qnn_TensorMemType_t)0, x_quant_2_0_output_0_clientBuf};
   Qnn_Tensor_t x_quant_2_0_output_0 = {(Qnn_TensorVersion_t)1, .v1 = x_quant_2_0_output_0_v1};

   Qnn_Tensor_t x_quant_2_0_outputs[] = {x_quant_2_0_output_0};
   Qnn_OpConfigV1_t x_quant_2_0_v1 = {"x_quant_2", "qti.aisw", "Quantize", 0, x_quant_2_0_params, 1, x_quant_2_0_inputs, 1, x_quant_2_0_outputs};
   Qnn_OpConfig_t x_quant_2_0 = {(Qnn_OpConfigVersion_t)1, .v1 = x_quant_2_0_v1};
   VALIDATE(error, interface.backendValidateOpConfig(backend_0, x_quant_2_0));

   uint32_t Transpose_token_4_0_param_0_tensor_dims[] = {4};
   Qnn_QuantizeParams_t Transpose_token_4_0_param_0_tensor_quantizeParams = {(Qnn_Definition_t)2147483647, (Qnn_QuantizationEncoding_t)2147483647, .scaleOffsetEncoding = {0.0, 0}};
   static uint32_t Transpose_token_4_0_param_0_tensor_data[4];
   fread(Transpose_token_4_0_param_0_tensor_data, 4, 4, fp);
   Qnn_ClientBuffer_t Transpose_token_4_0_param_0_tensor_clientBuf = {(void*)Transpose_token_4_0_param_0_tensor_data, 16};
   Qnn_TensorV1_t Transpose_token_4_0_param_0_tensor_v1 = {0, "Transpose_token_4_14_perm", (Qnn_TensorType_t)4, 0, (Qnn_DataType_t)306, Transpose_token_4_0_param_0_tensor_quantizeParams, 1, Transpose_token_4_0_param_0_tensor_dims, (Qnn_TensorMemType_t)0, Transpose_token_4_0_param_0_tensor_clientBuf};
   Qnn_Tensor_t Transpose_token_4_0_param_0_tensor = {(Qnn_TensorVersion_t)1, .v1 = Transpose_token_4_0_param_0_tensor_v1};
   Qnn_Param_t Transpose_token_4_0_param_0 = {(Qnn_ParamType_t)1, "perm", .tensorParam = Transpose_token_4_0_param_0_tensor};

   Qnn_Param_t Transpose_token_4_0_params[] = {Transpose_token_4_0_param_0};
   uint32_t Transpose_token_4_0_input_0_dims[] = {1, 3, 16, 16};
   Qnn_QuantizeParams_t Transpose_token_4_0_input_0_quantizeParams = {(Qnn_Definition_t)1, (Qnn_QuantizationEncoding_t)0, .scaleOffsetEncoding = {0.00392156886, 0}};
   Qnn_ClientBuffer_t Transpose_token_4_0_input_0_clientBuf = {NULL, 0};
   Qnn_TensorV1_t Transpose_token_4_0_input_0_v1 = {0, "x_q", (Qnn_TensorType_t)3, 0, (Qnn_DataType_t)1032, Transpose_token_4_0_input_0_quantizeParams, 4, Transpose_token_4_0_input_0_dims, (Qnn_TensorMemType_t)0, Transpose_token_4_0_input_0_clientBuf};
   Qnn_Tensor_t Transpose_token_4_0_input_0 = {(Qnn_TensorVersion_t)1, .v1 = Transpose_token_4_0_input_0_v1};

   Qnn_Tensor_t Transpose_token_4_0_inputs[] = {Transpose_token_4_0_input_0};
   uint32_t Transpose_token_4_0_output_0_dims[] = {1, 16, 16, 3};
   Qnn_QuantizeParams_t Transpose_token_4_0_output_0_quantizeParams = {(Qnn_Definition_t)1, (Qnn_QuantizationEncoding_t)0, .scaleOffsetEncoding = {0.00392156886, 0}};
   Qnn_ClientBuffer_t Transpose_token_4_0_output_0_clientBuf = {NULL, 0};
   Qnn_TensorV1_t Transpose_token_4_0_output_0_v1 = {0, "QuantizeLinear_token_8_out0", (Qnn_TensorType_t)3, 0, (Qnn_DataType_t)1032, Transpose_token_4_0_output_0_quantizeParams, 4, Transpose_token_4_0_output_0_dims, (Qnn_TensorMemType_t)0, Transpose_token_4_0_output_0_clientBuf};
   Qnn_Tensor_t Transpose_token_4_0_output_0 = {(Qnn_TensorVersion_t)1, .v1 = Transpose_token_4_0_output_0_v1};

   Qnn_Tensor_t Transpose_token_4_0_outputs[] = {Transpose_token_4_0_output_0};
   Qnn_OpConfigV1_t Transpose_token_4_0_v1 = {"Transpose_token_4", "qti.aisw", "Transpose", 1, Transpose_token_4_0_params, 1, Transpose_token_4_0_inputs, 1, Transpose_token_4_0_outputs};
   Qnn_OpConfig_t Transpose_token_4_0 = {(Qnn_OpConfigVersion_t)1, .v1 = Transpose_token_4_0_v1};
   VALIDATE(error, interface.backendValidateOpConfig(backend_0, Transpose_token_4_0));

   uint32_t conv_token_1_0_param_0_tensor_dims[] = {2};
   Qnn_QuantizeParams_t conv_token_1_0_param_0_tensor_quantizeParams = {(Qnn_Definition_t)2147483647, (Qnn_QuantizationEncoding_t)2147483647, .scaleOffsetEncoding = {0.0, 0}};
   static uint32_t conv_token_1_0_param_0_tensor_data[2];
   fread(conv_token_1_0_param_0_tensor_data, 4, 2, fp);
   Qnn_ClientBuffer_t conv_token_1_0_param_0_tensor_clientBuf = {(void*)conv_token_1_0_param_0_tensor_data, 8};
   Qnn_TensorV1_t conv_token_1_0_param_0_tensor_v1 = {0, "conv_token_1_12_dilation", (Qnn_TensorType_t)4, 0, (Qnn_DataType_t)306, conv_token_1_0_param_0_tensor_quantizeParams, 1, conv_token_1_0_param_0_tensor_dims, (Qnn_TensorMemType_t)0, conv_token_1_0_param_0_tensor_clientBuf};
   Qnn_Tensor_t conv_token_1_0_param_0_tensor = {(Qnn_TensorVersion_t)1, .v1 = conv_token_1_0_param_0_tensor_v1};
   Qnn_Param_t conv_token_1_0_param_0 = {(Qnn_ParamType_t)1, "dilation", .tensorParam = conv_token_1_0_param_0_tensor};

   uint32_t conv_token_1_0_param_1_tensor_dims[] = {2};
   Qnn_QuantizeParams_t conv_token_1_0_param_1_tensor_quantizeParams = {(Qnn_Definition_t)2147483647, (Qnn_QuantizationEncoding_t)2147483647, .scaleOffsetEncoding = {0.0, 0}};
   static uint32_t conv_token_1_0_param_1_tensor_data[2];
   fread(conv_token_1_0_param_1_tensor_data, 4, 2, fp);
   Qnn_ClientBuffer_t conv_token_1_0_param_1_tensor_clientBuf = {(void*)conv_token_1_0_param_1_tensor_data, 8};
   Qnn_TensorV1_t conv_token_1_0_param_1_tensor_v1 = {0, "conv_token_1_12_stride", (Qnn_TensorType_t)4, 0, (Qnn_DataType_t)306, conv_token_1_0_param_1_tensor_quantizeParams, 1, conv_token_1_0_param_1_tensor_dims, (Qnn_TensorMemType_t)0, conv_token_1_0_param_1_tensor_clientBuf};
   Qnn_Tensor_t conv_token_1_0_param_1_tensor = {(Qnn_TensorVersion_t)1, .v1 = conv_token_1_0_param_1_tensor_v1};
   Qnn_Param_t conv_token_1_0_param_1 = {(Qnn_ParamType_t)1, "stride", .tensorParam = conv_token_1_0_param_1_tensor};

   uint32_t conv_token_1_0_param_2_tensor_dims[] = {2, 2};
   Qnn_QuantizeParams_t conv_token_1_0_param_2_tensor_quantizeParams = {(Qnn_Definition_t)2147483647, (Qnn_QuantizationEncoding_t)2147483647, .scaleOffsetEncoding = {0.0, 0}};
   static uint32_t conv_token_1_0_param_2_tensor_data[4];
   fread(conv_token_1_0_param_2_tensor_data, 4, 4, fp);
   Qnn_ClientBuffer_t conv_token_1_0_param_2_tensor_clientBuf = {(void*)conv_token_1_0_param_2_tensor_data, 16};
   Qnn_TensorV1_t conv_token_1_0_param_2_tensor_v1 = {0, "conv_token_1_12_pad_amount", (Qnn_TensorType_t)4, 0, (Qnn_DataType_t)306, conv_token_1_0_param_2_tensor_quantizeParams, 2, conv_token_1_0_param_2_tensor_dims, (Qnn_TensorMemType_t)0, conv_token_1_0_param_2_tensor_clientBuf};
   Qnn_Tensor_t conv_token_1_0_param_2_tensor = {(Qnn_TensorVersion_t)1, .v1 = conv_token_1_0_param_2_tensor_v1};
   Qnn_Param_t conv_token_1_0_param_2 = {(Qnn_ParamType_t)1, "pad_amount", .tensorParam = conv_token_1_0_param_2_tensor};

   Qnn_Scalar_t conv_token_1_0_param_3_scalar = {(Qnn_DataType_t)306, .uint32Value = 1};
   Qnn_Param_t conv_token_1_0_param_3 = {(Qnn_ParamType_t)0, "group", .scalarParam = conv_token_1_0_param_3_scalar};

   Qnn_Scalar_t conv_token_1_0_param_4_scalar = {(Qnn_DataType_t)1288, .bool8Value = 0};
   Qnn_Param_t conv_token_1_0_param_4 = {(Qnn_ParamType_t)0, "reuse_sparse_indices", .scalarParam = conv_token_1_0_param_4_scalar};

   Qnn_Param_t conv_token_1_0_params[] = {conv_token_1_0_param_0, conv_token_1_0_param_1, conv_token_1_0_param_2, conv_token_1_0_param_3, conv_token_1_0_param_4};
   uint32_t conv_token_1_0_input_0_dims[] = {1, 16, 16, 3};
   Qnn_QuantizeParams_t conv_token_1_0_input_0_quantizeParams = {(Qnn_Definition_t)1, (Qnn_QuantizationEncoding_t)0, .scaleOffsetEncoding = {0.00392156886, 0}};
   Qnn_ClientBuffer_t conv_token_1_0_input_0_clientBuf = {NULL, 0};
   Qnn_TensorV1_t conv_token_1_0_input_0_v1 = {0, "QuantizeLinear_token_8_out0", (Qnn_TensorType_t)3, 0, (Qnn_DataType_t)1032, conv_token_1_0_input_0_quantizeParams, 4, conv_token_1_0_input_0_dims, (Qnn_TensorMemType_t)0, conv_token_1_0_input_0_clientBuf};
   Qnn_Tensor_t conv_token_1_0_input_0 = {(Qnn_TensorVersion_t)1, .v1 = conv_token_1_0_input_0_v1};

   uint32_t conv_token_1_0_input_1_dims[] = {3, 3, 3, 8};
   Qnn_QuantizeParams_t conv_token_1_0_input_1_quantizeParams = {(Qnn_Definition_t)1, (Qnn_QuantizationEncoding_t)0, .scaleOffsetEncoding = {0.00400000019, 0}};
   static int8_t conv_token_1_0_input_1_data[216];
   fread(conv_token_1_0_input_1_data, 1, 216, fp);
   Qnn_ClientBuffer_t conv_token_1_0_input_1_clientBuf = {(void*)conv_token_1_0_input_1_data, 216};
   Qnn_TensorV1_t conv_token_1_0_input_1_v1 = {0, "w_q", (Qnn_TensorType_t)4, 0, (Qnn_DataType_t)776, conv_token_1_0_input_1_quantizeParams, 4, conv_token_1_0_input_1_dims, (Qnn_TensorMemType_t)0, conv_token_1_0_input_1_clientBuf};
   Qnn_Tensor_t conv_token_1_0_input_1 = {(Qnn_TensorVersion_t)1, .v1 = conv_token_1_0_input_1_v1};

   uint32_t conv_token_1_0_input_2_dims[] = {8};
   Qnn_QuantizeParams_t conv_token_1_0_input_2_quantizeParams = {(Qnn_Definition_t)1, (Qnn_QuantizationEncoding_t)0, .scaleOffsetEncoding = {1.56862752e-05, 0}};
   static int32_t conv_token_1_0_input_2_data[8];
   fread(conv_token_1_0_input_2_data, 4, 8, fp);
   Qnn_ClientBuffer_t conv_token_1_0_input_2_clientBuf = {(void*)conv_token_1_0_input_2_data, 32};
   Qnn_TensorV1_t conv_token_1_0_input_2_v1 = {0, "b_q", (Qnn_TensorType_t)4, 0, (Qnn_DataType_t)818, conv_token_1_0_input_2_quantizeParams, 1, conv_token_1_0_input_2_dims, (Qnn_TensorMemType_t)0, conv_token_1_0_input_2_clientBuf};
   Qnn_Tensor_t conv_token_1_0_input_2 = {(Qnn_TensorVersion_t)1, .v1 = conv_token_1_0_input_2_v1};

   Qnn_Tensor_t conv_token_1_0_inputs[] = {conv_token_1_0_input_0, conv_token_1_0_input_1, conv_token_1_0_input_2};
   uint32_t conv_token_1_0_output_0_dims[] = {1, 16, 16, 8};
   Qnn_QuantizeParams_t conv_token_1_0_output_0_quantizeParams = {(Qnn_Definition_t)1, (Qnn_QuantizationEncoding_t)0, .scaleOffsetEncoding = {0.0199999996, 0}};
   Qnn_ClientBuffer_t conv_token_1_0_output_0_clientBuf = {NULL, 0};
   Qnn_TensorV1_t conv_token_1_0_output_0_v1 = {0, "y_quant", (Qnn_TensorType_t)3, 0, (Qnn_DataType_t)1032, conv_token_1_0_output_0_quantizeParams, 4, conv_token_1_0_output_0_dims, (Qnn_TensorMemType_t)0, conv_token_1_0_output_0_clientBuf};
   Qnn_Tensor_t conv_token_1_0_output_0 = {(Qnn_TensorVersion_t)1, .v1 = conv_token_1_0_output_0_v1};

   Qnn_Tensor_t conv_token_1_0_outputs[] = {conv_token_1_0_output_0};
   Qnn_OpConfigV1_t conv_token_1_0_v1 = {"conv_token_1", "qti.aisw", "Conv2d", 5, conv_token_1_0_params, 3, conv_token_1_0_inputs, 1, conv_token_1_0_outputs};
   Qnn_OpConfig_t conv_token_1_0 = {(Qnn_OpConfigVersion_t)1, .v1 = conv_token_1_0_v1};
   VALIDATE(error, interface.backendValidateOpConfig(backend_0, conv_token_1_0));

   uint32_t Transpose_token_7_0_param_0_tensor_dims[] = {4};
   Qnn_QuantizeParams_t Transpose_token_7_0_param_0_tensor_quantizeParams = {(Qnn_Definition_t)2147483647, (Qnn_QuantizationEncoding_t)2147483647, .scaleOffsetEncoding = {0.0, 0}};
   static uint32_t Transpose_token_7_0_param_0_tensor_data[4];
   fread(Transpose_token_7_0_param_0_tensor_data, 4, 4, fp);
   Qnn_ClientBuffer_t Transpose_token_7_0_param_0_tensor_clientBuf = {(void*)Transpose_token_7_0_param_0_tensor_data, 16};
   Qnn_TensorV1_t Transpose_token_7_0_param_0_tensor_v1 = {0, "Transpose_token_7_17_perm", (Qnn_TensorType_t)4, 0, (Qnn_DataType_t)306, Transpose_token_7_0_param_0_tensor_quantizeParams, 1, Transpose_token_7_0_param_0_tensor_dims, (Qnn_TensorMemType_t)0, Transpose_token_7_0_param_0_tensor_clientBuf};
   Qnn_Tensor_t Transpose_token_7_0_param_0_tensor = {(Qnn_TensorVersion_t)1, .v1 = Transpose_token_7_0_param_0_tensor_v1};
   Qnn_Param_t Transpose_token_7_0_param_0 = {(Qnn_ParamType_t)1, "perm", .tensorParam = Transpose_token_7_0_param_0_tensor};

   Qnn_Param_t Transpose_token_7_0_params[] = {Transpose_token_7_0_param_0};
   uint32_t Transpose_token_7_0_input_0_dims[] = {1, 16, 16, 8};
   Qnn_QuantizeParams_t Transpose_token_7_0_input_0_quantizeParams = {(Qnn_Definition_t)1, (Qnn_QuantizationEncoding_t)0, .scaleOffsetEncoding = {0.0199999996, 0}};
   Qnn_ClientBuffer_t Transpose_token_7_0_input_0_clientBuf = {NULL, 0};
   Qnn_TensorV1_t Transpose_token_7_0_input_0_v1 = {0, "y_quant", (Qnn_TensorType_t)3, 0, (Qnn_DataType_t)1032, Transpose_token_7_0_input_0_quantizeParams, 4, Transpose_token_7_0_input_0_dims, (Qnn_TensorMemType_t)0, Transpose_token_7_0_input_0_clientBuf};
   Qnn_Tensor_t Transpose_token_7_0_input_0 = {(Qnn_TensorVersion_t)1, .v1 = Transpose_token_7_0_input_0_v1};

   Qnn_Tensor_t Transpose_token_7_0_inputs[] = {Transpose_token_7_0_input_0};
   uint32_t Transpose_token_7_0_output_0_dims[] = {1, 8, 16, 16};
   Qnn_QuantizeParams_t Transpose_token_7_0_output_0_quantizeParams = {(Qnn_Definition_t)1, (Qnn_QuantizationEncoding_t)0, .scaleOffsetEncoding = {0.0199999996, 0}};
   Qnn_ClientBuffer_t Transpose_token_7_0_output_0_clientBuf = {NULL, 0};
   Qnn_TensorV1_t Transpose_token_7_0_output_0_v1 = {0, "QuantizeLinear_token_10_out0", (Qnn_TensorType_t)3, 0, (Qnn_DataType_t)1032, Transpose_token_7_0_output_0_quantizeParams, 4, Transpose_token_7_0_output_0_dims, (Qnn_TensorMemType_t)0, Transpose_token_7_0_output_0_clientBuf};
   Qnn_Tensor_t Transpose_token_7_0_output_0 = {(Qnn_TensorVersion_t)1, .v1 = Transpose_token_7_0_output_0_v1};

   Qnn_Tensor_t Transpose_token_7_0_outputs[] = {Transpose_token_7_0_output_0};
   Qnn_OpConfigV1_t Transpose_token_7_0_v1 = {"Transpose_token_7", "qti.aisw", "Transpose", 1, Transpose_token_7_0_params, 1, Transpose_token_7_0_inputs, 1, Transpose_token_7_0_outputs};
   Qnn_OpConfig_t Transpose_token_7_0 = {(Qnn_OpConfigVersion_t)1, .v1 = Transpose_token_7_0_v1};
   VALIDATE(error, interface.backendValidateOpConfig(backend_0, Transpose_token_7_0));

   Qnn_Param_t* DequantizeLinear_token_11_0_params = NULL;
   uint32_t DequantizeLinear_token_11_0_input_0_dims[] = {1, 8, 16, 16};
   Qnn_QuantizeParams_t DequantizeLinear_token_11_0_input_0_quantizeParams = {(Qnn_Definition_t)1, (Qnn_QuantizationEncoding_t)0, .scaleOffsetEncoding = {0.0199999996, 0}};
   Qnn_ClientBuffer_t DequantizeLinear_token_11_0_input_0_clientBuf = {NULL, 0};
   Qnn_TensorV1_t DequantizeLinear_token_11_0_input_0_v1 = {0, "QuantizeLinear_token_10_out0", (Qnn_TensorType_t)3, 0, (Qnn_DataType_t)1032, DequantizeLinear_token_11_0_input_0_quantizeParams, 4, DequantizeLinear_token_11_0_input_0_dims, (Qnn_TensorMemType_t)0, DequantizeLinear_token_11_0_input_0_clientBuf};
   Qnn_Tensor_t DequantizeLinear_token_11_0_input_0 = {(Qnn_TensorVersion_t)1, .v1 = DequantizeLinear_token_11_0_input_0_v1};

   Qnn_Tensor_t DequantizeLinear_token_11_0_inputs[] = {DequantizeLinear_token_11_0_input_0};
   uint32_t DequantizeLinear_token_11_0_output_0_dims[] = {1, 8, 16, 16};
   Qnn_QuantizeParams_t DequantizeLinear_token_11_0_output_0_quantizeParams = {(Qnn_Definition_t)2147483647, (Qnn_QuantizationEncoding_t)2147483647, .scaleOffsetEncoding = {0.0, 0}};
   Qnn_ClientBuffer_t DequantizeLinear_token_11_0_output_0_clientBuf = {NULL, 0};
   Qnn_TensorV1_t DequantizeLinear_token_11_0_output_0_v1 = {0, "y", (Qnn_TensorType_t)1, 0, (Qnn_DataType_t)562, DequantizeLinear_token_11_0_output_0_quantizeParams, 4, DequantizeLinear_token_11_0_output_0_dims, (Qnn_TensorMemType_t)0, DequantizeLinear_token_11_0_output_0_clientBuf};
   Qnn_Tensor_t DequantizeLinear_token_11_0_output_0 = {(Qnn_TensorVersion_t)1, .v1 = DequantizeLinear_token_11_0_output_0_v1};

   Qnn_Tensor_t DequantizeLinear_token_11_0_outputs[] = {DequantizeLinear_token_11_0_output_0};
   Qnn_OpConfigV1_t DequantizeLinear_token_11_0_v1 = {"DequantizeLinear_token_11", "qti.aisw", "Dequantize", 0, DequantizeLinear_token_11_0_params, 1, DequantizeLinear_token_11_0_inputs, 1, DequantizeLinear_token_11_0_outputs};
   Qnn_OpConfig_t DequantizeLinear_token_11_0 = {(Qnn_OpConfigVersion_t)1, .v1 = DequantizeLinear_token_11_0_v1};
   VALIDATE(error, interface.backendValidateOpConfig(backend_0, DequantizeLinear_token_11_0));

   const QnnGraph_Config_t* context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0_config_0[] = {NULL};
   Qnn_GraphHandle_t context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0;
   VALIDATE(error, interface.graphCreate(context_0, "QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0", context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0_config_0, &context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0));

   uint32_t context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0_tensor_0_dims[] = {1, 3, 16, 16};
   Qnn_QuantizeParams_t context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0_tensor_0_quantizeParams = {(Qnn_Definition_t)2147483647, (Qnn_QuantizationEncoding_t)2147483647, .scaleOffsetEncoding = {0.0, 0}};
   Qnn_ClientBuffer_t context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0_tensor_0_clientBuf = {NULL, 0};
   Qnn_TensorV1_t context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0_tensor_0_v1 = {0, "x", (Qnn_TensorType_t)0, 0, (Qnn_DataType_t)562, context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0_tensor_0_quantizeParams, 4, context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0_tensor_0_dims, (Qnn_TensorMemType_t)0, context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0_tensor_0_clientBuf};
   Qnn_Tensor_t context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0_tensor_0 = {(Qnn_TensorVersion_t)1, .v1 = context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0_tensor_0_v1};
   VALIDATE(error, interface.tensorCreateGraphTensor(context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0, &context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0_tensor_0));

   uint32_t context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0_tensor_1_dims[] = {1, 8, 16, 16};
   Qnn_QuantizeParams_t context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0_tensor_1_quantizeParams = {(Qnn_Definition_t)2147483647, (Qnn_QuantizationEncoding_t)2147483647, .scaleOffsetEncoding = {0.0, 0}};
   Qnn_ClientBuffer_t context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0_tensor_1_clientBuf = {NULL, 0};
   Qnn_TensorV1_t context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0_tensor_1_v1 = {0, "y", (Qnn_TensorType_t)1, 0, (Qnn_DataType_t)562, context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0_tensor_1_quantizeParams, 4, context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0_tensor_1_dims, (Qnn_TensorMemType_t)0, context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0_tensor_1_clientBuf};
   Qnn_Tensor_t context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0_tensor_1 = {(Qnn_TensorVersion_t)1, .v1 = context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0_tensor_1_v1};
   VALIDATE(error, interface.tensorCreateGraphTensor(context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0, &context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0_tensor_1));

   uint32_t context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0_tensor_2_dims[] = {1, 3, 16, 16};
   Qnn_QuantizeParams_t context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0_tensor_2_quantizeParams = {(Qnn_Definition_t)1, (Qnn_QuantizationEncoding_t)0, .scaleOffsetEncoding = {0.00392156886, 0}};
   Qnn_ClientBuffer_t context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0_tensor_2_clientBuf = {NULL, 0};
   Qnn_TensorV1_t context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0_tensor_2_v1 = {0, "x_q", (Qnn_TensorType_t)3, 0, (Qnn_DataType_t)1032, context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0_tensor_2_quantizeParams, 4, context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0_tensor_2_dims, (Qnn_TensorMemType_t)0, context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0_tensor_2_clientBuf};
   Qnn_Tensor_t context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0_tensor_2 = {(Qnn_TensorVersion_t)1, .v1 = context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0_tensor_2_v1};
   VALIDATE(error, interface.tensorCreateGraphTensor(context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0, &context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0_tensor_2));

   Qnn_Param_t* context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0_x_quant_0_params = NULL;
   uint32_t context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0_x_quant_0_input_0_dims[] = {1, 3, 16, 16};
   Qnn_QuantizeParams_t context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0_x_quant_0_input_0_quantizeParams = {(Qnn_Definition_t)2147483647, (Qnn_QuantizationEncoding_t)2147483647, .scaleOffsetEncoding = {0.0, 0}};
   Qnn_ClientBuffer_t context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0_x_quant_0_input_0_clientBuf = {NULL, 0};
   Qnn_TensorV1_t context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0_x_quant_0_input_0_v1 = {context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0_tensor_0.v1.id, "x", (Qnn_TensorType_t)0, 0, (Qnn_DataType_t)562, context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0_x_quant_0_input_0_quantizeParams, 4, context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0_x_quant_0_input_0_dims, (Qnn_TensorMemType_t)0, context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0_x_quant_0_input_0_clientBuf};
   Qnn_Tensor_t context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0_x_quant_0_input_0 = {(Qnn_TensorVersion_t)1, .v1 = context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0_x_quant_0_input_0_v1};

   Qnn_Tensor_t context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0_x_quant_0_inputs[] = {context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0_x_quant_0_input_0};
   uint32_t context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0_x_quant_0_output_0_dims[] = {1, 3, 16, 16};
   Qnn_QuantizeParams_t context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0_x_quant_0_output_0_quantizeParams = {(Qnn_Definition_t)1, (Qnn_QuantizationEncoding_t)0, .scaleOffsetEncoding = {0.00392156886, 0}};
   Qnn_ClientBuffer_t context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0_x_quant_0_output_0_clientBuf = {NULL, 0};
   Qnn_TensorV1_t context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0_x_quant_0_output_0_v1 = {context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0_tensor_2.v1.id, "x_q", (Qnn_TensorType_t)3, 0, (Qnn_DataType_t)1032, context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0_x_quant_0_output_0_quantizeParams, 4, context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0_x_quant_0_output_0_dims, (Qnn_TensorMemType_t)0, context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0_x_quant_0_output_0_clientBuf};
   Qnn_Tensor_t context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0_x_quant_0_output_0 = {(Qnn_TensorVersion_t)1, .v1 = context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0_x_quant_0_output_0_v1};

   Qnn_Tensor_t context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0_x_quant_0_outputs[] = {context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0_x_quant_0_output_0};
   Qnn_OpConfigV1_t context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0_x_quant_0_v1 = {"x_quant", "qti.aisw", "Quantize", 0, context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0_x_quant_0_params, 1, context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0_x_quant_0_inputs, 1, context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0_x_quant_0_outputs};
   Qnn_OpConfig_t context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0_x_quant_0 = {(Qnn_OpConfigVersion_t)1, .v1 = context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0_x_quant_0_v1};
   VALIDATE(error, interface.graphAddNode(context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0, context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0_x_quant_0));

   uint32_t context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0_tensor_3_dims[] = {1, 16, 16, 3};
   Qnn_QuantizeParams_t context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0_tensor_3_quantizeParams = {(Qnn_Definition_t)1, (Qnn_QuantizationEncoding_t)0, .scaleOffsetEncoding = {0.00392156886, 0}};
   Qnn_ClientBuffer_t context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0_tensor_3_clientBuf = {NULL, 0};
   Qnn_TensorV1_t context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0_tensor_3_v1 = {0, "QuantizeLinear_token_8_out0", (Qnn_TensorType_t)3, 0, (Qnn_DataType_t)1032, context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0_tensor_3_quantizeParams, 4, context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0_tensor_3_dims, (Qnn_TensorMemType_t)0, context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0_tensor_3_clientBuf};
   Qnn_Tensor_t context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0_tensor_3 = {(Qnn_TensorVersion_t)1, .v1 = context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0_tensor_3_v1};
   VALIDATE(error, interface.tensorCreateGraphTensor(context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0, &context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0_tensor_3));

   uint32_t context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0_tensor_4_dims[] = {4};
   Qnn_QuantizeParams_t context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0_tensor_4_quantizeParams = {(Qnn_Definition_t)2147483647, (Qnn_QuantizationEncoding_t)2147483647, .scaleOffsetEncoding = {0.0, 0}};
   static uint32_t context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0_tensor_4_data[4];
   fread(context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0_tensor_4_data, 4, 4, fp);
   Qnn_ClientBuffer_t context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0_tensor_4_clientBuf = {(void*)context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0_tensor_4_data, 16};
   Qnn_TensorV1_t context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0_tensor_4_v1 = {0, "Transpose_token_4_14_perm", (Qnn_TensorType_t)4, 0, (Qnn_DataType_t)306, context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0_tensor_4_quantizeParams, 1, context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0_tensor_4_dims, (Qnn_TensorMemType_t)0, context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0_tensor_4_clientBuf};
   Qnn_Tensor_t context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0_tensor_4 = {(Qnn_TensorVersion_t)1, .v1 = context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0_tensor_4_v1};
   VALIDATE(error, interface.tensorCreateGraphTensor(context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0, &context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0_tensor_4));

   uint32_t context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0_Transpose_token_4_0_param_0_tensor_dims[] = {4};
   Qnn_QuantizeParams_t context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0_Transpose_token_4_0_param_0_tensor_quantizeParams = {(Qnn_Definition_t)2147483647, (Qnn_QuantizationEncoding_t)2147483647, .scaleOffsetEncoding = {0.0, 0}};
   static uint32_t context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0_Transpose_token_4_0_param_0_tensor_data[4];
   fread(context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0_Transpose_token_4_0_param_0_tensor_data, 4, 4, fp);
   Qnn_ClientBuffer_t context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0_Transpose_token_4_0_param_0_tensor_clientBuf = {(void*)context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0_Transpose_token_4_0_param_0_tensor_data, 16};
   Qnn_TensorV1_t context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0_Transpose_token_4_0_param_0_tensor_v1 = {context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0_tensor_4.v1.id, "Transpose_token_4_14_perm", (Qnn_TensorType_t)4, 0, (Qnn_DataType_t)306, context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0_Transpose_token_4_0_param_0_tensor_quantizeParams, 1, context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0_Transpose_token_4_0_param_0_tensor_dims, (Qnn_TensorMemType_t)0, context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0_Transpose_token_4_0_param_0_tensor_clientBuf};
   Qnn_Tensor_t context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0_Transpose_token_4_0_param_0_tensor = {(Qnn_TensorVersion_t)1, .v1 = context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0_Transpose_token_4_0_param_0_tensor_v1};
   Qnn_Param_t context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0_Transpose_token_4_0_param_0 = {(Qnn_ParamType_t)1, "perm", .tensorParam = context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0_Transpose_token_4_0_param_0_tensor};

   Qnn_Param_t context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0_Transpose_token_4_0_params[] = {context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0_Transpose_token_4_0_param_0};
   uint32_t context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0_Transpose_token_4_0_input_0_dims[] = {1, 3, 16, 16};
   Qnn_QuantizeParams_t context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0_Transpose_token_4_0_input_0_quantizeParams = {(Qnn_Definition_t)1, (Qnn_QuantizationEncoding_t)0, .scaleOffsetEncoding = {0.00392156886, 0}};
   Qnn_ClientBuffer_t context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0_Transpose_token_4_0_input_0_clientBuf = {NULL, 0};
   Qnn_TensorV1_t context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0_Transpose_token_4_0_input_0_v1 = {context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0_tensor_2.v1.id, "x_q", (Qnn_TensorType_t)3, 0, (Qnn_DataType_t)1032, context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0_Transpose_token_4_0_input_0_quantizeParams, 4, context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0_Transpose_token_4_0_input_0_dims, (Qnn_TensorMemType_t)0, context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0_Transpose_token_4_0_input_0_clientBuf};
   Qnn_Tensor_t context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0_Transpose_token_4_0_input_0 = {(Qnn_TensorVersion_t)1, .v1 = context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0_Transpose_token_4_0_input_0_v1};

   Qnn_Tensor_t context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0_Transpose_token_4_0_inputs[] = {context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0_Transpose_token_4_0_input_0};
   uint32_t context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0_Transpose_token_4_0_output_0_dims[] = {1, 16, 16, 3};
   Qnn_QuantizeParams_t context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0_Transpose_token_4_0_output_0_quantizeParams = {(Qnn_Definition_t)1, (Qnn_QuantizationEncoding_t)0, .scaleOffsetEncoding = {0.00392156886, 0}};
   Qnn_ClientBuffer_t context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0_Transpose_token_4_0_output_0_clientBuf = {NULL, 0};
   Qnn_TensorV1_t context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0_Transpose_token_4_0_output_0_v1 = {context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0_tensor_3.v1.id, "QuantizeLinear_token_8_out0", (Qnn_TensorType_t)3, 0, (Qnn_DataType_t)1032, context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0_Transpose_token_4_0_output_0_quantizeParams, 4, context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0_Transpose_token_4_0_output_0_dims, (Qnn_TensorMemType_t)0, context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0_Transpose_token_4_0_output_0_clientBuf};
   Qnn_Tensor_t context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0_Transpose_token_4_0_output_0 = {(Qnn_TensorVersion_t)1, .v1 = context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0_Transpose_token_4_0_output_0_v1};

   Qnn_Tensor_t context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0_Transpose_token_4_0_outputs[] = {context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0_Transpose_token_4_0_output_0};
   Qnn_OpConfigV1_t context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0_Transpose_token_4_0_v1 = {"Transpose_token_4", "qti.aisw", "Transpose", 1, context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0_Transpose_token_4_0_params, 1, context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0_Transpose_token_4_0_inputs, 1, context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0_Transpose_token_4_0_outputs};
   Qnn_OpConfig_t context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0_Transpose_token_4_0 = {(Qnn_OpConfigVersion_t)1, .v1 = context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0_Transpose_token_4_0_v1};
   VALIDATE(error, interface.graphAddNode(context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0, context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0_Transpose_token_4_0));

   uint32_t context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0_tensor_5_dims[] = {3, 3, 3, 8};
   Qnn_QuantizeParams_t context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0_tensor_5_quantizeParams = {(Qnn_Definition_t)1, (Qnn_QuantizationEncoding_t)0, .scaleOffsetEncoding = {0.00400000019, 0}};
   static int8_t context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0_tensor_5_data[216];
   fread(context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0_tensor_5_data, 1, 216, fp);
   Qnn_ClientBuffer_t context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0_tensor_5_clientBuf = {(void*)context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0_tensor_5_data, 216};
   Qnn_TensorV1_t context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0_tensor_5_v1 = {0, "w_q", (Qnn_TensorType_t)4, 0, (Qnn_DataType_t)776, context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0_tensor_5_quantizeParams, 4, context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0_tensor_5_dims, (Qnn_TensorMemType_t)0, context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0_tensor_5_clientBuf};
   Qnn_Tensor_t context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0_tensor_5 = {(Qnn_TensorVersion_t)1, .v1 = context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0_tensor_5_v1};
   VALIDATE(error, interface.tensorCreateGraphTensor(context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0, &context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0_tensor_5));

   uint32_t context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0_tensor_6_dims[] = {8};
   Qnn_QuantizeParams_t context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0_tensor_6_quantizeParams = {(Qnn_Definition_t)1, (Qnn_QuantizationEncoding_t)0, .scaleOffsetEncoding = {1.56862752e-05, 0}};
   static int32_t context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0_tensor_6_data[8];
   fread(context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0_tensor_6_data, 4, 8, fp);
   Qnn_ClientBuffer_t context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0_tensor_6_clientBuf = {(void*)context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0_tensor_6_data, 32};
   Qnn_TensorV1_t context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0_tensor_6_v1 = {0, "b_q", (Qnn_TensorType_t)4, 0, (Qnn_DataType_t)818, context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0_tensor_6_quantizeParams, 1, context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0_tensor_6_dims, (Qnn_TensorMemType_t)0, context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0_tensor_6_clientBuf};
   Qnn_Tensor_t context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0_tensor_6 = {(Qnn_TensorVersion_t)1, .v1 = context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0_tensor_6_v1};
   VALIDATE(error, interface.tensorCreateGraphTensor(context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0, &context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0_tensor_6));

   uint32_t context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0_tensor_7_dims[] = {1, 16, 16, 8};
   Qnn_QuantizeParams_t context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0_tensor_7_quantizeParams = {(Qnn_Definition_t)1, (Qnn_QuantizationEncoding_t)0, .scaleOffsetEncoding = {0.0199999996, 0}};
   Qnn_ClientBuffer_t context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0_tensor_7_clientBuf = {NULL, 0};
   Qnn_TensorV1_t context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0_tensor_7_v1 = {0, "y_quant", (Qnn_TensorType_t)3, 0, (Qnn_DataType_t)1032, context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0_tensor_7_quantizeParams, 4, context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0_tensor_7_dims, (Qnn_TensorMemType_t)0, context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0_tensor_7_clientBuf};
   Qnn_Tensor_t context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0_tensor_7 = {(Qnn_TensorVersion_t)1, .v1 = context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0_tensor_7_v1};
   VALIDATE(error, interface.tensorCreateGraphTensor(context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0, &context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0_tensor_7));

   uint32_t context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0_tensor_8_dims[] = {2};
   Qnn_QuantizeParams_t context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0_tensor_8_quantizeParams = {(Qnn_Definition_t)2147483647, (Qnn_QuantizationEncoding_t)2147483647, .scaleOffsetEncoding = {0.0, 0}};
   static uint32_t context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0_tensor_8_data[2];
   fread(context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0_tensor_8_data, 4, 2, fp);
   Qnn_ClientBuffer_t context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0_tensor_8_clientBuf = {(void*)context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0_tensor_8_data, 8};
   Qnn_TensorV1_t context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0_tensor_8_v1 = {0, "conv_token_1_12_dilation", (Qnn_TensorType_t)4, 0, (Qnn_DataType_t)306, context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0_tensor_8_quantizeParams, 1, context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0_tensor_8_dims, (Qnn_TensorMemType_t)0, context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0_tensor_8_clientBuf};
   Qnn_Tensor_t context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0_tensor_8 = {(Qnn_TensorVersion_t)1, .v1 = context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0_tensor_8_v1};
   VALIDATE(error, interface.tensorCreateGraphTensor(context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0, &context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0_tensor_8));

   uint32_t context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0_tensor_9_dims[] = {2};
   Qnn_QuantizeParams_t context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0_tensor_9_quantizeParams = {(Qnn_Definition_t)2147483647, (Qnn_QuantizationEncoding_t)2147483647, .scaleOffsetEncoding = {0.0, 0}};
   static uint32_t context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0_tensor_9_data[2];
   fread(context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0_tensor_9_data, 4, 2, fp);
   Qnn_ClientBuffer_t context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0_tensor_9_clientBuf = {(void*)context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0_tensor_9_data, 8};
   Qnn_TensorV1_t context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0_tensor_9_v1 = {0, "conv_token_1_12_stride", (Qnn_TensorType_t)4, 0, (Qnn_DataType_t)306, context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0_tensor_9_quantizeParams, 1, context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0_tensor_9_dims, (Qnn_TensorMemType_t)0, context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0_tensor_9_clientBuf};
   Qnn_Tensor_t context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0_tensor_9 = {(Qnn_TensorVersion_t)1, .v1 = context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0_tensor_9_v1};
   VALIDATE(error, interface.tensorCreateGraphTensor(context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0, &context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0_tensor_9));

   uint32_t context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0_tensor_10_dims[] = {2, 2};
   Qnn_QuantizeParams_t context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0_tensor_10_quantizeParams = {(Qnn_Definition_t)2147483647, (Qnn_QuantizationEncoding_t)2147483647, .scaleOffsetEncoding = {0.0, 0}};
   static uint32_t context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0_tensor_10_data[4];
   fread(context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0_tensor_10_data, 4, 4, fp);
   Qnn_ClientBuffer_t context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0_tensor_10_clientBuf = {(void*)context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0_tensor_10_data, 16};
   Qnn_TensorV1_t context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0_tensor_10_v1 = {0, "conv_token_1_12_pad_amount", (Qnn_TensorType_t)4, 0, (Qnn_DataType_t)306, context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0_tensor_10_quantizeParams, 2, context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0_tensor_10_dims, (Qnn_TensorMemType_t)0, context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0_tensor_10_clientBuf};
   Qnn_Tensor_t context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0_tensor_10 = {(Qnn_TensorVersion_t)1, .v1 = context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0_tensor_10_v1};
   VALIDATE(error, interface.tensorCreateGraphTensor(context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0, &context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0_tensor_10));

   uint32_t context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0_conv_token_1_0_param_0_tensor_dims[] = {2};
   Qnn_QuantizeParams_t context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0_conv_token_1_0_param_0_tensor_quantizeParams = {(Qnn_Definition_t)2147483647, (Qnn_QuantizationEncoding_t)2147483647, .scaleOffsetEncoding = {0.0, 0}};
   static uint32_t context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0_conv_token_1_0_param_0_tensor_data[2];
   fread(context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0_conv_token_1_0_param_0_tensor_data, 4, 2, fp);
   Qnn_ClientBuffer_t context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0_conv_token_1_0_param_0_tensor_clientBuf = {(void*)context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0_conv_token_1_0_param_0_tensor_data, 8};
   Qnn_TensorV1_t context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0_conv_token_1_0_param_0_tensor_v1 = {context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0_tensor_8.v1.id, "conv_token_1_12_dilation", (Qnn_TensorType_t)4, 0, (Qnn_DataType_t)306, context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0_conv_token_1_0_param_0_tensor_quantizeParams, 1, context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0_conv_token_1_0_param_0_tensor_dims, (Qnn_TensorMemType_t)0, context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0_conv_token_1_0_param_0_tensor_clientBuf};
   Qnn_Tensor_t context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0_conv_token_1_0_param_0_tensor = {(Qnn_TensorVersion_t)1, .v1 = context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0_conv_token_1_0_param_0_tensor_v1};
   Qnn_Param_t context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0_conv_token_1_0_param_0 = {(Qnn_ParamType_t)1, "dilation", .tensorParam = context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0_conv_token_1_0_param_0_tensor};

   uint32_t context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0_conv_token_1_0_param_1_tensor_dims[] = {2};
   Qnn_QuantizeParams_t context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0_conv_token_1_0_param_1_tensor_quantizeParams = {(Qnn_Definition_t)2147483647, (Qnn_QuantizationEncoding_t)2147483647, .scaleOffsetEncoding = {0.0, 0}};
   static uint32_t context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0_conv_token_1_0_param_1_tensor_data[2];
   fread(context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0_conv_token_1_0_param_1_tensor_data, 4, 2, fp);
   Qnn_ClientBuffer_t context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0_conv_token_1_0_param_1_tensor_clientBuf = {(void*)context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0_conv_token_1_0_param_1_tensor_data, 8};
   Qnn_TensorV1_t context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0_conv_token_1_0_param_1_tensor_v1 = {context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0_tensor_9.v1.id, "conv_token_1_12_stride", (Qnn_TensorType_t)4, 0, (Qnn_DataType_t)306, context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0_conv_token_1_0_param_1_tensor_quantizeParams, 1, context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0_conv_token_1_0_param_1_tensor_dims, (Qnn_TensorMemType_t)0, context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0_conv_token_1_0_param_1_tensor_clientBuf};
   Qnn_Tensor_t context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0_conv_token_1_0_param_1_tensor = {(Qnn_TensorVersion_t)1, .v1 = context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0_conv_token_1_0_param_1_tensor_v1};
   Qnn_Param_t context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0_conv_token_1_0_param_1 = {(Qnn_ParamType_t)1, "stride", .tensorParam = context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0_conv_token_1_0_param_1_tensor};

   uint32_t context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0_conv_token_1_0_param_2_tensor_dims[] = {2, 2};
   Qnn_QuantizeParams_t context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0_conv_token_1_0_param_2_tensor_quantizeParams = {(Qnn_Definition_t)2147483647, (Qnn_QuantizationEncoding_t)2147483647, .scaleOffsetEncoding = {0.0, 0}};
   static uint32_t context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0_conv_token_1_0_param_2_tensor_data[4];
   fread(context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0_conv_token_1_0_param_2_tensor_data, 4, 4, fp);
   Qnn_ClientBuffer_t context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0_conv_token_1_0_param_2_tensor_clientBuf = {(void*)context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0_conv_token_1_0_param_2_tensor_data, 16};
   Qnn_TensorV1_t context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0_conv_token_1_0_param_2_tensor_v1 = {context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0_tensor_10.v1.id, "conv_token_1_12_pad_amount", (Qnn_TensorType_t)4, 0, (Qnn_DataType_t)306, context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0_conv_token_1_0_param_2_tensor_quantizeParams, 2, context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0_conv_token_1_0_param_2_tensor_dims, (Qnn_TensorMemType_t)0, context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0_conv_token_1_0_param_2_tensor_clientBuf};
   Qnn_Tensor_t context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0_conv_token_1_0_param_2_tensor = {(Qnn_TensorVersion_t)1, .v1 = context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0_conv_token_1_0_param_2_tensor_v1};
   Qnn_Param_t context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0_conv_token_1_0_param_2 = {(Qnn_ParamType_t)1, "pad_amount", .tensorParam = context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0_conv_token_1_0_param_2_tensor};

   Qnn_Scalar_t context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0_conv_token_1_0_param_3_scalar = {(Qnn_DataType_t)306, .uint32Value = 1};
   Qnn_Param_t context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0_conv_token_1_0_param_3 = {(Qnn_ParamType_t)0, "group", .scalarParam = context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0_conv_token_1_0_param_3_scalar};

   Qnn_Scalar_t context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0_conv_token_1_0_param_4_scalar = {(Qnn_DataType_t)1288, .bool8Value = 0};
   Qnn_Param_t context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0_conv_token_1_0_param_4 = {(Qnn_ParamType_t)0, "reuse_sparse_indices", .scalarParam = context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0_conv_token_1_0_param_4_scalar};

   Qnn_Param_t context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0_conv_token_1_0_params[] = {context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0_conv_token_1_0_param_0, context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0_conv_token_1_0_param_1, context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0_conv_token_1_0_param_2, context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0_conv_token_1_0_param_3, context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0_conv_token_1_0_param_4};
   uint32_t context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0_conv_token_1_0_input_0_dims[] = {1, 16, 16, 3};
   Qnn_QuantizeParams_t context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0_conv_token_1_0_input_0_quantizeParams = {(Qnn_Definition_t)1, (Qnn_QuantizationEncoding_t)0, .scaleOffsetEncoding = {0.00392156886, 0}};
   Qnn_ClientBuffer_t context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0_conv_token_1_0_input_0_clientBuf = {NULL, 0};
   Qnn_TensorV1_t context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0_conv_token_1_0_input_0_v1 = {context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0_tensor_3.v1.id, "QuantizeLinear_token_8_out0", (Qnn_TensorType_t)3, 0, (Qnn_DataType_t)1032, context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0_conv_token_1_0_input_0_quantizeParams, 4, context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0_conv_token_1_0_input_0_dims, (Qnn_TensorMemType_t)0, context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0_conv_token_1_0_input_0_clientBuf};
   Qnn_Tensor_t context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0_conv_token_1_0_input_0 = {(Qnn_TensorVersion_t)1, .v1 = context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0_conv_token_1_0_input_0_v1};

   uint32_t context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0_conv_token_1_0_input_1_dims[] = {3, 3, 3, 8};
   Qnn_QuantizeParams_t context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0_conv_token_1_0_input_1_quantizeParams = {(Qnn_Definition_t)1, (Qnn_QuantizationEncoding_t)0, .scaleOffsetEncoding = {0.00400000019, 0}};
   static int8_t context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0_conv_token_1_0_input_1_data[216];
   fread(context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0_conv_token_1_0_input_1_data, 1, 216, fp);
   Qnn_ClientBuffer_t context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0_conv_token_1_0_input_1_clientBuf = {(void*)context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0_conv_token_1_0_input_1_data, 216};
   Qnn_TensorV1_t context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0_conv_token_1_0_input_1_v1 = {context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0_tensor_5.v1.id, "w_q", (Qnn_TensorType_t)4, 0, (Qnn_DataType_t)776, context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0_conv_token_1_0_input_1_quantizeParams, 4, context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0_conv_token_1_0_input_1_dims, (Qnn_TensorMemType_t)0, context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0_conv_token_1_0_input_1_clientBuf};
   Qnn_Tensor_t context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0_conv_token_1_0_input_1 = {(Qnn_TensorVersion_t)1, .v1 = context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0_conv_token_1_0_input_1_v1};

   uint32_t context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0_conv_token_1_0_input_2_dims[] = {8};
   Qnn_QuantizeParams_t context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0_conv_token_1_0_input_2_quantizeParams = {(Qnn_Definition_t)1, (Qnn_QuantizationEncoding_t)0, .scaleOffsetEncoding = {1.56862752e-05, 0}};
   static int32_t context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0_conv_token_1_0_input_2_data[8];
   fread(context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0_conv_token_1_0_input_2_data, 4, 8, fp);
   Qnn_ClientBuffer_t context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0_conv_token_1_0_input_2_clientBuf = {(void*)context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0_conv_token_1_0_input_2_data, 32};
   Qnn_TensorV1_t context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0_conv_token_1_0_input_2_v1 = {context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0_tensor_6.v1.id, "b_q", (Qnn_TensorType_t)4, 0, (Qnn_DataType_t)818, context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0_conv_token_1_0_input_2_quantizeParams, 1, context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0_conv_token_1_0_input_2_dims, (Qnn_TensorMemType_t)0, context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0_conv_token_1_0_input_2_clientBuf};
   Qnn_Tensor_t context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0_conv_token_1_0_input_2 = {(Qnn_TensorVersion_t)1, .v1 = context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0_conv_token_1_0_input_2_v1};

   Qnn_Tensor_t context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0_conv_token_1_0_inputs[] = {context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0_conv_token_1_0_input_0, context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0_conv_token_1_0_input_1, context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0_conv_token_1_0_input_2};
   uint32_t context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0_conv_token_1_0_output_0_dims[] = {1, 16, 16, 8};
   Qnn_QuantizeParams_t context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0_conv_token_1_0_output_0_quantizeParams = {(Qnn_Definition_t)1, (Qnn_QuantizationEncoding_t)0, .scaleOffsetEncoding = {0.0199999996, 0}};
   Qnn_ClientBuffer_t context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0_conv_token_1_0_output_0_clientBuf = {NULL, 0};
   Qnn_TensorV1_t context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0_conv_token_1_0_output_0_v1 = {context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0_tensor_7.v1.id, "y_quant", (Qnn_TensorType_t)3, 0, (Qnn_DataType_t)1032, context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0_conv_token_1_0_output_0_quantizeParams, 4, context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0_conv_token_1_0_output_0_dims, (Qnn_TensorMemType_t)0, context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0_conv_token_1_0_output_0_clientBuf};
   Qnn_Tensor_t context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0_conv_token_1_0_output_0 = {(Qnn_TensorVersion_t)1, .v1 = context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0_conv_token_1_0_output_0_v1};

   Qnn_Tensor_t context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0_conv_token_1_0_outputs[] = {context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0_conv_token_1_0_output_0};
   Qnn_OpConfigV1_t context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0_conv_token_1_0_v1 = {"conv_token_1", "qti.aisw", "Conv2d", 5, context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0_conv_token_1_0_params, 3, context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0_conv_token_1_0_inputs, 1, context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0_conv_token_1_0_outputs};
   Qnn_OpConfig_t context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0_conv_token_1_0 = {(Qnn_OpConfigVersion_t)1, .v1 = context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0_conv_token_1_0_v1};
   VALIDATE(error, interface.graphAddNode(context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0, context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0_conv_token_1_0));

   uint32_t context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0_tensor_11_dims[] = {1, 8, 16, 16};
   Qnn_QuantizeParams_t context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0_tensor_11_quantizeParams = {(Qnn_Definition_t)1, (Qnn_QuantizationEncoding_t)0, .scaleOffsetEncoding = {0.0199999996, 0}};
   Qnn_ClientBuffer_t context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0_tensor_11_clientBuf = {NULL, 0};
   Qnn_TensorV1_t context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0_tensor_11_v1 = {0, "QuantizeLinear_token_10_out0", (Qnn_TensorType_t)3, 0, (Qnn_DataType_t)1032, context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0_tensor_11_quantizeParams, 4, context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0_tensor_11_dims, (Qnn_TensorMemType_t)0, context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0_tensor_11_clientBuf};
   Qnn_Tensor_t context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0_tensor_11 = {(Qnn_TensorVersion_t)1, .v1 = context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0_tensor_11_v1};
   VALIDATE(error, interface.tensorCreateGraphTensor(context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0, &context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0_tensor_11));

   uint32_t context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0_tensor_12_dims[] = {4};
   Qnn_QuantizeParams_t context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0_tensor_12_quantizeParams = {(Qnn_Definition_t)2147483647, (Qnn_QuantizationEncoding_t)2147483647, .scaleOffsetEncoding = {0.0, 0}};
   static uint32_t context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0_tensor_12_data[4];
   fread(context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0_tensor_12_data, 4, 4, fp);
   Qnn_ClientBuffer_t context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0_tensor_12_clientBuf = {(void*)context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0_tensor_12_data, 16};
   Qnn_TensorV1_t context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0_tensor_12_v1 = {0, "Transpose_token_7_17_perm", (Qnn_TensorType_t)4, 0, (Qnn_DataType_t)306, context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0_tensor_12_quantizeParams, 1, context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0_tensor_12_dims, (Qnn_TensorMemType_t)0, context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0_tensor_12_clientBuf};
   Qnn_Tensor_t context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0_tensor_12 = {(Qnn_TensorVersion_t)1, .v1 = context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0_tensor_12_v1};
   VALIDATE(error, interface.tensorCreateGraphTensor(context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0, &context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0_tensor_12));

   uint32_t context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0_Transpose_token_7_0_param_0_tensor_dims[] = {4};
   Qnn_QuantizeParams_t context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0_Transpose_token_7_0_param_0_tensor_quantizeParams = {(Qnn_Definition_t)2147483647, (Qnn_QuantizationEncoding_t)2147483647, .scaleOffsetEncoding = {0.0, 0}};
   static uint32_t context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0_Transpose_token_7_0_param_0_tensor_data[4];
   fread(context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0_Transpose_token_7_0_param_0_tensor_data, 4, 4, fp);
   Qnn_ClientBuffer_t context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0_Transpose_token_7_0_param_0_tensor_clientBuf = {(void*)context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0_Transpose_token_7_0_param_0_tensor_data, 16};
   Qnn_TensorV1_t context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0_Transpose_token_7_0_param_0_tensor_v1 = {context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0_tensor_12.v1.id, "Transpose_token_7_17_perm", (Qnn_TensorType_t)4, 0, (Qnn_DataType_t)306, context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0_Transpose_token_7_0_param_0_tensor_quantizeParams, 1, context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0_Transpose_token_7_0_param_0_tensor_dims, (Qnn_TensorMemType_t)0, context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0_Transpose_token_7_0_param_0_tensor_clientBuf};
   Qnn_Tensor_t context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0_Transpose_token_7_0_param_0_tensor = {(Qnn_TensorVersion_t)1, .v1 = context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0_Transpose_token_7_0_param_0_tensor_v1};
   Qnn_Param_t context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0_Transpose_token_7_0_param_0 = {(Qnn_ParamType_t)1, "perm", .tensorParam = context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0_Transpose_token_7_0_param_0_tensor};

   Qnn_Param_t context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0_Transpose_token_7_0_params[] = {context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0_Transpose_token_7_0_param_0};
   uint32_t context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0_Transpose_token_7_0_input_0_dims[] = {1, 16, 16, 8};
   Qnn_QuantizeParams_t context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0_Transpose_token_7_0_input_0_quantizeParams = {(Qnn_Definition_t)1, (Qnn_QuantizationEncoding_t)0, .scaleOffsetEncoding = {0.0199999996, 0}};
   Qnn_ClientBuffer_t context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0_Transpose_token_7_0_input_0_clientBuf = {NULL, 0};
   Qnn_TensorV1_t context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0_Transpose_token_7_0_input_0_v1 = {context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0_tensor_7.v1.id, "y_quant", (Qnn_TensorType_t)3, 0, (Qnn_DataType_t)1032, context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0_Transpose_token_7_0_input_0_quantizeParams, 4, context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0_Transpose_token_7_0_input_0_dims, (Qnn_TensorMemType_t)0, context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0_Transpose_token_7_0_input_0_clientBuf};
   Qnn_Tensor_t context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0_Transpose_token_7_0_input_0 = {(Qnn_TensorVersion_t)1, .v1 = context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0_Transpose_token_7_0_input_0_v1};

   Qnn_Tensor_t context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0_Transpose_token_7_0_inputs[] = {context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0_Transpose_token_7_0_input_0};
   uint32_t context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0_Transpose_token_7_0_output_0_dims[] = {1, 8, 16, 16};
   Qnn_QuantizeParams_t context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0_Transpose_token_7_0_output_0_quantizeParams = {(Qnn_Definition_t)1, (Qnn_QuantizationEncoding_t)0, .scaleOffsetEncoding = {0.0199999996, 0}};
   Qnn_ClientBuffer_t context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0_Transpose_token_7_0_output_0_clientBuf = {NULL, 0};
   Qnn_TensorV1_t context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0_Transpose_token_7_0_output_0_v1 = {context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0_tensor_11.v1.id, "QuantizeLinear_token_10_out0", (Qnn_TensorType_t)3, 0, (Qnn_DataType_t)1032, context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0_Transpose_token_7_0_output_0_quantizeParams, 4, context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0_Transpose_token_7_0_output_0_dims, (Qnn_TensorMemType_t)0, context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0_Transpose_token_7_0_output_0_clientBuf};
   Qnn_Tensor_t context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0_Transpose_token_7_0_output_0 = {(Qnn_TensorVersion_t)1, .v1 = context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0_Transpose_token_7_0_output_0_v1};

   Qnn_Tensor_t context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0_Transpose_token_7_0_outputs[] = {context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0_Transpose_token_7_0_output_0};
   Qnn_OpConfigV1_t context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0_Transpose_token_7_0_v1 = {"Transpose_token_7", "qti.aisw", "Transpose", 1, context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0_Transpose_token_7_0_params, 1, context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0_Transpose_token_7_0_inputs, 1, context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0_Transpose_token_7_0_outputs};
   Qnn_OpConfig_t context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0_Transpose_token_7_0 = {(Qnn_OpConfigVersion_t)1, .v1 = context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0_Transpose_token_7_0_v1};
   VALIDATE(error, interface.graphAddNode(context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0, context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0_Transpose_token_7_0));

   Qnn_Param_t* context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0_DequantizeLinear_token_11_0_params = NULL;
   uint32_t context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0_DequantizeLinear_token_11_0_input_0_dims[] = {1, 8, 16, 16};
   Qnn_QuantizeParams_t context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0_DequantizeLinear_token_11_0_input_0_quantizeParams = {(Qnn_Definition_t)1, (Qnn_QuantizationEncoding_t)0, .scaleOffsetEncoding = {0.0199999996, 0}};
   Qnn_ClientBuffer_t context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0_DequantizeLinear_token_11_0_input_0_clientBuf = {NULL, 0};
   Qnn_TensorV1_t context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0_DequantizeLinear_token_11_0_input_0_v1 = {context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0_tensor_11.v1.id, "QuantizeLinear_token_10_out0", (Qnn_TensorType_t)3, 0, (Qnn_DataType_t)1032, context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0_DequantizeLinear_token_11_0_input_0_quantizeParams, 4, context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0_DequantizeLinear_token_11_0_input_0_dims, (Qnn_TensorMemType_t)0, context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0_DequantizeLinear_token_11_0_input_0_clientBuf};
   Qnn_Tensor_t context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0_DequantizeLinear_token_11_0_input_0 = {(Qnn_TensorVersion_t)1, .v1 = context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0_DequantizeLinear_token_11_0_input_0_v1};

   Qnn_Tensor_t context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0_DequantizeLinear_token_11_0_inputs[] = {context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0_DequantizeLinear_token_11_0_input_0};
   uint32_t context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0_DequantizeLinear_token_11_0_output_0_dims[] = {1, 8, 16, 16};
   Qnn_QuantizeParams_t context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0_DequantizeLinear_token_11_0_output_0_quantizeParams = {(Qnn_Definition_t)2147483647, (Qnn_QuantizationEncoding_t)2147483647, .scaleOffsetEncoding = {0.0, 0}};
   Qnn_ClientBuffer_t context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0_DequantizeLinear_token_11_0_output_0_clientBuf = {NULL, 0};
   Qnn_TensorV1_t context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0_DequantizeLinear_token_11_0_output_0_v1 = {context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0_tensor_1.v1.id, "y", (Qnn_TensorType_t)1, 0, (Qnn_DataType_t)562, context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0_DequantizeLinear_token_11_0_output_0_quantizeParams, 4, context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0_DequantizeLinear_token_11_0_output_0_dims, (Qnn_TensorMemType_t)0, context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0_DequantizeLinear_token_11_0_output_0_clientBuf};
   Qnn_Tensor_t context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0_DequantizeLinear_token_11_0_output_0 = {(Qnn_TensorVersion_t)1, .v1 = context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0_DequantizeLinear_token_11_0_output_0_v1};

   Qnn_Tensor_t context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0_DequantizeLinear_token_11_0_outputs[] = {context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0_DequantizeLinear_token_11_0_output_0};
   Qnn_OpConfigV1_t context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0_DequantizeLinear_token_11_0_v1 = {"DequantizeLinear_token_11", "qti.aisw", "Dequantize", 0, context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0_DequantizeLinear_token_11_0_params, 1, context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0_DequantizeLinear_token_11_0_inputs, 1, context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0_DequantizeLinear_token_11_0_outputs};
   Qnn_OpConfig_t context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0_DequantizeLinear_token_11_0 = {(Qnn_OpConfigVersion_t)1, .v1 = context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0_DequantizeLinear_token_11_0_v1};
   VALIDATE(error, interface.graphAddNode(context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0, context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0_DequantizeLinear_token_11_0));

   VALIDATE(error, interface.graphFinalize(context_0_QNNExecutionProvider_QNNExecutionProvider_18209296689029199464_1_0, NULL, NULL));

   VALIDATE(error, interface.contextFree(context_0, NULL));

   VALIDATE(error, interface.deviceFree(device_0));

   VALIDATE(error, interface.backendFree(backend_0));

   if (logging) {
     VALIDATE(error, interface.logFree(loghandle));
   }

   if (fclose(fp)) error = -1;
   return error == 0 || error == QNN_COMMON_ERROR_NOT_SUPPORTED ? 0 : error;
}
