// cryptoki.h: the PKCS#11 ABI as far as hsm-jwks uses it, written here from the facts of the
// OASIS PKCS#11 2.40 and 3.0 specifications (type sizes, structure layouts, constant values,
// function-list order). It is the single source of truth for the constants: the X-macro lists
// below declare the C++ constants, feed the native name tables (native/names.cc) and are parsed by
// scripts/gen-constants.js into lib/pkcs11/constants.ts. Keep one entry per line.
#ifndef HSM_JWKS_CRYPTOKI_H_
#define HSM_JWKS_CRYPTOKI_H_

#if defined(_WIN32)
#pragma pack(push, cryptoki, 1)  // Win32 PKCS#11 structures are packed to 1 byte
#endif

// ---- base types (CK_ULONG is `unsigned long`: 64 bits on LP64 Linux/macOS, 32 on Windows) ----
typedef unsigned char CK_BYTE;
typedef CK_BYTE CK_CHAR;
typedef CK_BYTE CK_UTF8CHAR;
typedef CK_BYTE CK_BBOOL;
typedef unsigned long CK_ULONG;
typedef long CK_LONG;
typedef CK_ULONG CK_FLAGS;
typedef CK_ULONG CK_RV;
typedef CK_ULONG CK_SLOT_ID;
typedef CK_ULONG CK_SESSION_HANDLE;
typedef CK_ULONG CK_OBJECT_HANDLE;
typedef CK_ULONG CK_OBJECT_CLASS;
typedef CK_ULONG CK_KEY_TYPE;
typedef CK_ULONG CK_ATTRIBUTE_TYPE;
typedef CK_ULONG CK_MECHANISM_TYPE;
typedef CK_ULONG CK_USER_TYPE;
typedef CK_ULONG CK_STATE;
typedef CK_ULONG CK_NOTIFICATION;
typedef CK_ULONG CK_RSA_PKCS_MGF_TYPE;
typedef CK_ULONG CK_RSA_PKCS_OAEP_SOURCE_TYPE;
typedef void* CK_VOID_PTR;

static constexpr CK_BBOOL CK_TRUE = 1;
static constexpr CK_BBOOL CK_FALSE = 0;
static constexpr CK_ULONG CK_UNAVAILABLE_INFORMATION = ~0UL;
static constexpr CK_ULONG CK_EFFECTIVELY_INFINITE = 0UL;
static constexpr CK_ULONG CK_INVALID_HANDLE = 0UL;

// ---- structures ----
struct CK_VERSION {
  CK_BYTE major;
  CK_BYTE minor;
};

struct CK_INFO {
  CK_VERSION cryptokiVersion;
  CK_UTF8CHAR manufacturerID[32];
  CK_FLAGS flags;
  CK_UTF8CHAR libraryDescription[32];
  CK_VERSION libraryVersion;
};

struct CK_SLOT_INFO {
  CK_UTF8CHAR slotDescription[64];
  CK_UTF8CHAR manufacturerID[32];
  CK_FLAGS flags;
  CK_VERSION hardwareVersion;
  CK_VERSION firmwareVersion;
};

struct CK_TOKEN_INFO {
  CK_UTF8CHAR label[32];
  CK_UTF8CHAR manufacturerID[32];
  CK_UTF8CHAR model[16];
  CK_CHAR serialNumber[16];
  CK_FLAGS flags;
  CK_ULONG ulMaxSessionCount;
  CK_ULONG ulSessionCount;
  CK_ULONG ulMaxRwSessionCount;
  CK_ULONG ulRwSessionCount;
  CK_ULONG ulMaxPinLen;
  CK_ULONG ulMinPinLen;
  CK_ULONG ulTotalPublicMemory;
  CK_ULONG ulFreePublicMemory;
  CK_ULONG ulTotalPrivateMemory;
  CK_ULONG ulFreePrivateMemory;
  CK_VERSION hardwareVersion;
  CK_VERSION firmwareVersion;
  CK_CHAR utcTime[16];
};

struct CK_SESSION_INFO {
  CK_SLOT_ID slotID;
  CK_STATE state;
  CK_FLAGS flags;
  CK_ULONG ulDeviceError;
};

struct CK_ATTRIBUTE {
  CK_ATTRIBUTE_TYPE type;
  CK_VOID_PTR pValue;
  CK_ULONG ulValueLen;
};

struct CK_MECHANISM {
  CK_MECHANISM_TYPE mechanism;
  CK_VOID_PTR pParameter;
  CK_ULONG ulParameterLen;
};

struct CK_MECHANISM_INFO {
  CK_ULONG ulMinKeySize;
  CK_ULONG ulMaxKeySize;
  CK_FLAGS flags;
};

struct CK_RSA_PKCS_PSS_PARAMS {
  CK_MECHANISM_TYPE hashAlg;
  CK_RSA_PKCS_MGF_TYPE mgf;
  CK_ULONG sLen;
};

struct CK_RSA_PKCS_OAEP_PARAMS {
  CK_MECHANISM_TYPE hashAlg;
  CK_RSA_PKCS_MGF_TYPE mgf;
  CK_RSA_PKCS_OAEP_SOURCE_TYPE source;
  CK_VOID_PTR pSourceData;
  CK_ULONG ulSourceDataLen;
};

typedef CK_RV (*CK_CREATEMUTEX)(CK_VOID_PTR* ppMutex);
typedef CK_RV (*CK_DESTROYMUTEX)(CK_VOID_PTR pMutex);
typedef CK_RV (*CK_LOCKMUTEX)(CK_VOID_PTR pMutex);
typedef CK_RV (*CK_UNLOCKMUTEX)(CK_VOID_PTR pMutex);
typedef CK_RV (*CK_NOTIFY)(CK_SESSION_HANDLE hSession, CK_NOTIFICATION event, CK_VOID_PTR pApplication);

struct CK_C_INITIALIZE_ARGS {
  CK_CREATEMUTEX CreateMutex;
  CK_DESTROYMUTEX DestroyMutex;
  CK_LOCKMUTEX LockMutex;
  CK_UNLOCKMUTEX UnlockMutex;
  CK_FLAGS flags;
  CK_VOID_PTR pReserved;  // NSS softokn reads its configuration string from here
};

// ---- the function list: 2.40 order; 3.0 appends to the same prefix ----
struct CK_FUNCTION_LIST;
struct CK_INTERFACE;
typedef CK_RV (*CK_C_GetFunctionList)(CK_FUNCTION_LIST** ppFunctionList);
typedef CK_RV (*CK_C_GetInterface)(CK_UTF8CHAR* pInterfaceName, CK_VERSION* pVersion,
                                   CK_INTERFACE** ppInterface, CK_FLAGS flags);

#define CK_FN(name, ...) CK_RV (*name)(__VA_ARGS__)
#define CK_FUNCTION_LIST_2_40_MEMBERS                                                              \
  CK_VERSION version;                                                                              \
  CK_FN(C_Initialize, CK_VOID_PTR pInitArgs);                                                      \
  CK_FN(C_Finalize, CK_VOID_PTR pReserved);                                                        \
  CK_FN(C_GetInfo, CK_INFO* pInfo);                                                                \
  CK_FN(C_GetFunctionList, CK_FUNCTION_LIST** ppFunctionList);                                     \
  CK_FN(C_GetSlotList, CK_BBOOL tokenPresent, CK_SLOT_ID* pSlotList, CK_ULONG* pulCount);          \
  CK_FN(C_GetSlotInfo, CK_SLOT_ID slotID, CK_SLOT_INFO* pInfo);                                    \
  CK_FN(C_GetTokenInfo, CK_SLOT_ID slotID, CK_TOKEN_INFO* pInfo);                                  \
  CK_FN(C_GetMechanismList, CK_SLOT_ID slotID, CK_MECHANISM_TYPE* pMechanismList,                  \
        CK_ULONG* pulCount);                                                                       \
  CK_FN(C_GetMechanismInfo, CK_SLOT_ID slotID, CK_MECHANISM_TYPE type, CK_MECHANISM_INFO* pInfo);  \
  CK_FN(C_InitToken, CK_SLOT_ID slotID, CK_UTF8CHAR* pPin, CK_ULONG ulPinLen, CK_UTF8CHAR* pLabel); \
  CK_FN(C_InitPIN, CK_SESSION_HANDLE hSession, CK_UTF8CHAR* pPin, CK_ULONG ulPinLen);              \
  CK_FN(C_SetPIN, CK_SESSION_HANDLE hSession, CK_UTF8CHAR* pOldPin, CK_ULONG ulOldLen,             \
        CK_UTF8CHAR* pNewPin, CK_ULONG ulNewLen);                                                  \
  CK_FN(C_OpenSession, CK_SLOT_ID slotID, CK_FLAGS flags, CK_VOID_PTR pApplication,                \
        CK_NOTIFY Notify, CK_SESSION_HANDLE* phSession);                                           \
  CK_FN(C_CloseSession, CK_SESSION_HANDLE hSession);                                               \
  CK_FN(C_CloseAllSessions, CK_SLOT_ID slotID);                                                    \
  CK_FN(C_GetSessionInfo, CK_SESSION_HANDLE hSession, CK_SESSION_INFO* pInfo);                     \
  CK_FN(C_GetOperationState, CK_SESSION_HANDLE hSession, CK_BYTE* pOperationState,                 \
        CK_ULONG* pulOperationStateLen);                                                           \
  CK_FN(C_SetOperationState, CK_SESSION_HANDLE hSession, CK_BYTE* pOperationState,                 \
        CK_ULONG ulOperationStateLen, CK_OBJECT_HANDLE hEncryptionKey,                             \
        CK_OBJECT_HANDLE hAuthenticationKey);                                                      \
  CK_FN(C_Login, CK_SESSION_HANDLE hSession, CK_USER_TYPE userType, CK_UTF8CHAR* pPin,             \
        CK_ULONG ulPinLen);                                                                        \
  CK_FN(C_Logout, CK_SESSION_HANDLE hSession);                                                     \
  CK_FN(C_CreateObject, CK_SESSION_HANDLE hSession, CK_ATTRIBUTE* pTemplate, CK_ULONG ulCount,     \
        CK_OBJECT_HANDLE* phObject);                                                               \
  CK_FN(C_CopyObject, CK_SESSION_HANDLE hSession, CK_OBJECT_HANDLE hObject,                        \
        CK_ATTRIBUTE* pTemplate, CK_ULONG ulCount, CK_OBJECT_HANDLE* phNewObject);                 \
  CK_FN(C_DestroyObject, CK_SESSION_HANDLE hSession, CK_OBJECT_HANDLE hObject);                    \
  CK_FN(C_GetObjectSize, CK_SESSION_HANDLE hSession, CK_OBJECT_HANDLE hObject, CK_ULONG* pulSize); \
  CK_FN(C_GetAttributeValue, CK_SESSION_HANDLE hSession, CK_OBJECT_HANDLE hObject,                 \
        CK_ATTRIBUTE* pTemplate, CK_ULONG ulCount);                                                \
  CK_FN(C_SetAttributeValue, CK_SESSION_HANDLE hSession, CK_OBJECT_HANDLE hObject,                 \
        CK_ATTRIBUTE* pTemplate, CK_ULONG ulCount);                                                \
  CK_FN(C_FindObjectsInit, CK_SESSION_HANDLE hSession, CK_ATTRIBUTE* pTemplate, CK_ULONG ulCount); \
  CK_FN(C_FindObjects, CK_SESSION_HANDLE hSession, CK_OBJECT_HANDLE* phObject,                     \
        CK_ULONG ulMaxObjectCount, CK_ULONG* pulObjectCount);                                      \
  CK_FN(C_FindObjectsFinal, CK_SESSION_HANDLE hSession);                                           \
  CK_FN(C_EncryptInit, CK_SESSION_HANDLE hSession, CK_MECHANISM* pMechanism, CK_OBJECT_HANDLE hKey); \
  CK_FN(C_Encrypt, CK_SESSION_HANDLE hSession, CK_BYTE* pData, CK_ULONG ulDataLen,                 \
        CK_BYTE* pEncryptedData, CK_ULONG* pulEncryptedDataLen);                                   \
  CK_FN(C_EncryptUpdate, CK_SESSION_HANDLE hSession, CK_BYTE* pPart, CK_ULONG ulPartLen,           \
        CK_BYTE* pEncryptedPart, CK_ULONG* pulEncryptedPartLen);                                   \
  CK_FN(C_EncryptFinal, CK_SESSION_HANDLE hSession, CK_BYTE* pLastEncryptedPart,                   \
        CK_ULONG* pulLastEncryptedPartLen);                                                        \
  CK_FN(C_DecryptInit, CK_SESSION_HANDLE hSession, CK_MECHANISM* pMechanism, CK_OBJECT_HANDLE hKey); \
  CK_FN(C_Decrypt, CK_SESSION_HANDLE hSession, CK_BYTE* pEncryptedData,                            \
        CK_ULONG ulEncryptedDataLen, CK_BYTE* pData, CK_ULONG* pulDataLen);                        \
  CK_FN(C_DecryptUpdate, CK_SESSION_HANDLE hSession, CK_BYTE* pEncryptedPart,                      \
        CK_ULONG ulEncryptedPartLen, CK_BYTE* pPart, CK_ULONG* pulPartLen);                        \
  CK_FN(C_DecryptFinal, CK_SESSION_HANDLE hSession, CK_BYTE* pLastPart, CK_ULONG* pulLastPartLen); \
  CK_FN(C_DigestInit, CK_SESSION_HANDLE hSession, CK_MECHANISM* pMechanism);                       \
  CK_FN(C_Digest, CK_SESSION_HANDLE hSession, CK_BYTE* pData, CK_ULONG ulDataLen,                  \
        CK_BYTE* pDigest, CK_ULONG* pulDigestLen);                                                 \
  CK_FN(C_DigestUpdate, CK_SESSION_HANDLE hSession, CK_BYTE* pPart, CK_ULONG ulPartLen);           \
  CK_FN(C_DigestKey, CK_SESSION_HANDLE hSession, CK_OBJECT_HANDLE hKey);                           \
  CK_FN(C_DigestFinal, CK_SESSION_HANDLE hSession, CK_BYTE* pDigest, CK_ULONG* pulDigestLen);      \
  CK_FN(C_SignInit, CK_SESSION_HANDLE hSession, CK_MECHANISM* pMechanism, CK_OBJECT_HANDLE hKey);  \
  CK_FN(C_Sign, CK_SESSION_HANDLE hSession, CK_BYTE* pData, CK_ULONG ulDataLen,                    \
        CK_BYTE* pSignature, CK_ULONG* pulSignatureLen);                                           \
  CK_FN(C_SignUpdate, CK_SESSION_HANDLE hSession, CK_BYTE* pPart, CK_ULONG ulPartLen);             \
  CK_FN(C_SignFinal, CK_SESSION_HANDLE hSession, CK_BYTE* pSignature, CK_ULONG* pulSignatureLen);  \
  CK_FN(C_SignRecoverInit, CK_SESSION_HANDLE hSession, CK_MECHANISM* pMechanism,                   \
        CK_OBJECT_HANDLE hKey);                                                                    \
  CK_FN(C_SignRecover, CK_SESSION_HANDLE hSession, CK_BYTE* pData, CK_ULONG ulDataLen,             \
        CK_BYTE* pSignature, CK_ULONG* pulSignatureLen);                                           \
  CK_FN(C_VerifyInit, CK_SESSION_HANDLE hSession, CK_MECHANISM* pMechanism, CK_OBJECT_HANDLE hKey); \
  CK_FN(C_Verify, CK_SESSION_HANDLE hSession, CK_BYTE* pData, CK_ULONG ulDataLen,                  \
        CK_BYTE* pSignature, CK_ULONG ulSignatureLen);                                             \
  CK_FN(C_VerifyUpdate, CK_SESSION_HANDLE hSession, CK_BYTE* pPart, CK_ULONG ulPartLen);           \
  CK_FN(C_VerifyFinal, CK_SESSION_HANDLE hSession, CK_BYTE* pSignature, CK_ULONG ulSignatureLen);  \
  CK_FN(C_VerifyRecoverInit, CK_SESSION_HANDLE hSession, CK_MECHANISM* pMechanism,                 \
        CK_OBJECT_HANDLE hKey);                                                                    \
  CK_FN(C_VerifyRecover, CK_SESSION_HANDLE hSession, CK_BYTE* pSignature,                          \
        CK_ULONG ulSignatureLen, CK_BYTE* pData, CK_ULONG* pulDataLen);                            \
  CK_FN(C_DigestEncryptUpdate, CK_SESSION_HANDLE hSession, CK_BYTE* pPart, CK_ULONG ulPartLen,     \
        CK_BYTE* pEncryptedPart, CK_ULONG* pulEncryptedPartLen);                                   \
  CK_FN(C_DecryptDigestUpdate, CK_SESSION_HANDLE hSession, CK_BYTE* pEncryptedPart,                \
        CK_ULONG ulEncryptedPartLen, CK_BYTE* pPart, CK_ULONG* pulPartLen);                        \
  CK_FN(C_SignEncryptUpdate, CK_SESSION_HANDLE hSession, CK_BYTE* pPart, CK_ULONG ulPartLen,       \
        CK_BYTE* pEncryptedPart, CK_ULONG* pulEncryptedPartLen);                                   \
  CK_FN(C_DecryptVerifyUpdate, CK_SESSION_HANDLE hSession, CK_BYTE* pEncryptedPart,                \
        CK_ULONG ulEncryptedPartLen, CK_BYTE* pPart, CK_ULONG* pulPartLen);                        \
  CK_FN(C_GenerateKey, CK_SESSION_HANDLE hSession, CK_MECHANISM* pMechanism,                       \
        CK_ATTRIBUTE* pTemplate, CK_ULONG ulCount, CK_OBJECT_HANDLE* phKey);                       \
  CK_FN(C_GenerateKeyPair, CK_SESSION_HANDLE hSession, CK_MECHANISM* pMechanism,                   \
        CK_ATTRIBUTE* pPublicKeyTemplate, CK_ULONG ulPublicKeyAttributeCount,                      \
        CK_ATTRIBUTE* pPrivateKeyTemplate, CK_ULONG ulPrivateKeyAttributeCount,                    \
        CK_OBJECT_HANDLE* phPublicKey, CK_OBJECT_HANDLE* phPrivateKey);                            \
  CK_FN(C_WrapKey, CK_SESSION_HANDLE hSession, CK_MECHANISM* pMechanism,                           \
        CK_OBJECT_HANDLE hWrappingKey, CK_OBJECT_HANDLE hKey, CK_BYTE* pWrappedKey,                \
        CK_ULONG* pulWrappedKeyLen);                                                               \
  CK_FN(C_UnwrapKey, CK_SESSION_HANDLE hSession, CK_MECHANISM* pMechanism,                         \
        CK_OBJECT_HANDLE hUnwrappingKey, CK_BYTE* pWrappedKey, CK_ULONG ulWrappedKeyLen,           \
        CK_ATTRIBUTE* pTemplate, CK_ULONG ulAttributeCount, CK_OBJECT_HANDLE* phKey);              \
  CK_FN(C_DeriveKey, CK_SESSION_HANDLE hSession, CK_MECHANISM* pMechanism,                         \
        CK_OBJECT_HANDLE hBaseKey, CK_ATTRIBUTE* pTemplate, CK_ULONG ulAttributeCount,             \
        CK_OBJECT_HANDLE* phKey);                                                                  \
  CK_FN(C_SeedRandom, CK_SESSION_HANDLE hSession, CK_BYTE* pSeed, CK_ULONG ulSeedLen);             \
  CK_FN(C_GenerateRandom, CK_SESSION_HANDLE hSession, CK_BYTE* RandomData, CK_ULONG ulRandomLen);  \
  CK_FN(C_GetFunctionStatus, CK_SESSION_HANDLE hSession);                                          \
  CK_FN(C_CancelFunction, CK_SESSION_HANDLE hSession);                                             \
  CK_FN(C_WaitForSlotEvent, CK_FLAGS flags, CK_SLOT_ID* pSlot, CK_VOID_PTR pReserved);

struct CK_FUNCTION_LIST {
  CK_FUNCTION_LIST_2_40_MEMBERS
};

// PKCS#11 3.0 extends the 2.40 list: same prefix, new members appended. hsm-jwks calls only the
// prefix (CKM_EDDSA goes through C_SignInit/C_Sign), so the message-based functions are declared
// with an opaque signature: the layout is what matters here.
typedef CK_RV (*CK_UNUSED_3_0_FN)();
struct CK_FUNCTION_LIST_3_0 {
  CK_FUNCTION_LIST_2_40_MEMBERS
  CK_FN(C_GetInterfaceList, CK_INTERFACE* pInterfacesList, CK_ULONG* pulCount);
  CK_C_GetInterface C_GetInterface;
  CK_FN(C_LoginUser, CK_SESSION_HANDLE hSession, CK_USER_TYPE userType, CK_UTF8CHAR* pPin,
        CK_ULONG ulPinLen, CK_UTF8CHAR* pUsername, CK_ULONG ulUsernameLen);
  CK_FN(C_SessionCancel, CK_SESSION_HANDLE hSession, CK_FLAGS flags);
  CK_UNUSED_3_0_FN C_MessageEncryptInit, C_EncryptMessage, C_EncryptMessageBegin,
      C_EncryptMessageNext, C_MessageEncryptFinal;
  CK_UNUSED_3_0_FN C_MessageDecryptInit, C_DecryptMessage, C_DecryptMessageBegin,
      C_DecryptMessageNext, C_MessageDecryptFinal;
  CK_UNUSED_3_0_FN C_MessageSignInit, C_SignMessage, C_SignMessageBegin, C_SignMessageNext,
      C_MessageSignFinal;
  CK_UNUSED_3_0_FN C_MessageVerifyInit, C_VerifyMessage, C_VerifyMessageBegin,
      C_VerifyMessageNext, C_MessageVerifyFinal;
};
#undef CK_FN

struct CK_INTERFACE {
  CK_CHAR* pInterfaceName;  // "PKCS 11" for the standard interface
  CK_VOID_PTR pFunctionList;  // CK_FUNCTION_LIST* or CK_FUNCTION_LIST_3_0*, see its version
  CK_FLAGS flags;
};

// ---- constants (X-macro lists: X(NAME, VALUE) or, for attributes, X(NAME, VALUE, KIND)) ----

// Return values.
#define CKR_LIST(X) \
  X(CKR_OK, 0x00000000) \
  X(CKR_CANCEL, 0x00000001) \
  X(CKR_HOST_MEMORY, 0x00000002) \
  X(CKR_SLOT_ID_INVALID, 0x00000003) \
  X(CKR_GENERAL_ERROR, 0x00000005) \
  X(CKR_FUNCTION_FAILED, 0x00000006) \
  X(CKR_ARGUMENTS_BAD, 0x00000007) \
  X(CKR_NO_EVENT, 0x00000008) \
  X(CKR_NEED_TO_CREATE_THREADS, 0x00000009) \
  X(CKR_CANT_LOCK, 0x0000000A) \
  X(CKR_ATTRIBUTE_READ_ONLY, 0x00000010) \
  X(CKR_ATTRIBUTE_SENSITIVE, 0x00000011) \
  X(CKR_ATTRIBUTE_TYPE_INVALID, 0x00000012) \
  X(CKR_ATTRIBUTE_VALUE_INVALID, 0x00000013) \
  X(CKR_ACTION_PROHIBITED, 0x0000001B) \
  X(CKR_DATA_INVALID, 0x00000020) \
  X(CKR_DATA_LEN_RANGE, 0x00000021) \
  X(CKR_DEVICE_ERROR, 0x00000030) \
  X(CKR_DEVICE_MEMORY, 0x00000031) \
  X(CKR_DEVICE_REMOVED, 0x00000032) \
  X(CKR_ENCRYPTED_DATA_INVALID, 0x00000040) \
  X(CKR_ENCRYPTED_DATA_LEN_RANGE, 0x00000041) \
  X(CKR_AEAD_DECRYPT_FAILED, 0x00000042) \
  X(CKR_FUNCTION_CANCELED, 0x00000050) \
  X(CKR_FUNCTION_NOT_PARALLEL, 0x00000051) \
  X(CKR_FUNCTION_NOT_SUPPORTED, 0x00000054) \
  X(CKR_KEY_HANDLE_INVALID, 0x00000060) \
  X(CKR_KEY_SIZE_RANGE, 0x00000062) \
  X(CKR_KEY_TYPE_INCONSISTENT, 0x00000063) \
  X(CKR_KEY_NOT_NEEDED, 0x00000064) \
  X(CKR_KEY_CHANGED, 0x00000065) \
  X(CKR_KEY_NEEDED, 0x00000066) \
  X(CKR_KEY_INDIGESTIBLE, 0x00000067) \
  X(CKR_KEY_FUNCTION_NOT_PERMITTED, 0x00000068) \
  X(CKR_KEY_NOT_WRAPPABLE, 0x00000069) \
  X(CKR_KEY_UNEXTRACTABLE, 0x0000006A) \
  X(CKR_MECHANISM_INVALID, 0x00000070) \
  X(CKR_MECHANISM_PARAM_INVALID, 0x00000071) \
  X(CKR_OBJECT_HANDLE_INVALID, 0x00000082) \
  X(CKR_OPERATION_ACTIVE, 0x00000090) \
  X(CKR_OPERATION_NOT_INITIALIZED, 0x00000091) \
  X(CKR_PIN_INCORRECT, 0x000000A0) \
  X(CKR_PIN_INVALID, 0x000000A1) \
  X(CKR_PIN_LEN_RANGE, 0x000000A2) \
  X(CKR_PIN_EXPIRED, 0x000000A3) \
  X(CKR_PIN_LOCKED, 0x000000A4) \
  X(CKR_SESSION_CLOSED, 0x000000B0) \
  X(CKR_SESSION_COUNT, 0x000000B1) \
  X(CKR_SESSION_HANDLE_INVALID, 0x000000B3) \
  X(CKR_SESSION_PARALLEL_NOT_SUPPORTED, 0x000000B4) \
  X(CKR_SESSION_READ_ONLY, 0x000000B5) \
  X(CKR_SESSION_EXISTS, 0x000000B6) \
  X(CKR_SESSION_READ_ONLY_EXISTS, 0x000000B7) \
  X(CKR_SESSION_READ_WRITE_SO_EXISTS, 0x000000B8) \
  X(CKR_SIGNATURE_INVALID, 0x000000C0) \
  X(CKR_SIGNATURE_LEN_RANGE, 0x000000C1) \
  X(CKR_TEMPLATE_INCOMPLETE, 0x000000D0) \
  X(CKR_TEMPLATE_INCONSISTENT, 0x000000D1) \
  X(CKR_TOKEN_NOT_PRESENT, 0x000000E0) \
  X(CKR_TOKEN_NOT_RECOGNIZED, 0x000000E1) \
  X(CKR_TOKEN_WRITE_PROTECTED, 0x000000E2) \
  X(CKR_UNWRAPPING_KEY_HANDLE_INVALID, 0x000000F0) \
  X(CKR_UNWRAPPING_KEY_SIZE_RANGE, 0x000000F1) \
  X(CKR_UNWRAPPING_KEY_TYPE_INCONSISTENT, 0x000000F2) \
  X(CKR_USER_ALREADY_LOGGED_IN, 0x00000100) \
  X(CKR_USER_NOT_LOGGED_IN, 0x00000101) \
  X(CKR_USER_PIN_NOT_INITIALIZED, 0x00000102) \
  X(CKR_USER_TYPE_INVALID, 0x00000103) \
  X(CKR_USER_ANOTHER_ALREADY_LOGGED_IN, 0x00000104) \
  X(CKR_USER_TOO_MANY_TYPES, 0x00000105) \
  X(CKR_WRAPPED_KEY_INVALID, 0x00000110) \
  X(CKR_WRAPPED_KEY_LEN_RANGE, 0x00000112) \
  X(CKR_WRAPPING_KEY_HANDLE_INVALID, 0x00000113) \
  X(CKR_WRAPPING_KEY_SIZE_RANGE, 0x00000114) \
  X(CKR_WRAPPING_KEY_TYPE_INCONSISTENT, 0x00000115) \
  X(CKR_RANDOM_SEED_NOT_SUPPORTED, 0x00000120) \
  X(CKR_RANDOM_NO_RNG, 0x00000121) \
  X(CKR_DOMAIN_PARAMS_INVALID, 0x00000130) \
  X(CKR_CURVE_NOT_SUPPORTED, 0x00000140) \
  X(CKR_BUFFER_TOO_SMALL, 0x00000150) \
  X(CKR_SAVED_STATE_INVALID, 0x00000160) \
  X(CKR_INFORMATION_SENSITIVE, 0x00000170) \
  X(CKR_STATE_UNSAVEABLE, 0x00000180) \
  X(CKR_CRYPTOKI_NOT_INITIALIZED, 0x00000190) \
  X(CKR_CRYPTOKI_ALREADY_INITIALIZED, 0x00000191) \
  X(CKR_MUTEX_BAD, 0x000001A0) \
  X(CKR_MUTEX_NOT_LOCKED, 0x000001A1) \
  X(CKR_NEW_PIN_MODE, 0x000001B0) \
  X(CKR_NEXT_OTP, 0x000001B1) \
  X(CKR_EXCEEDED_MAX_ITERATIONS, 0x000001B5) \
  X(CKR_FIPS_SELF_TEST_FAILED, 0x000001B6) \
  X(CKR_LIBRARY_LOAD_FAILED, 0x000001B7) \
  X(CKR_PIN_TOO_WEAK, 0x000001B8) \
  X(CKR_PUBLIC_KEY_INVALID, 0x000001B9) \
  X(CKR_FUNCTION_REJECTED, 0x00000200) \
  X(CKR_TOKEN_RESOURCE_EXCEEDED, 0x00000201) \
  X(CKR_OPERATION_CANCEL_FAILED, 0x00000202) \
  X(CKR_VENDOR_DEFINED, 0x80000000)

// Attribute types, each with the kind of value it holds (the codec table in native/attributes.cc
// and lib/pkcs11/constants.ts both come from this list). Kinds: BOOL (CK_BBOOL), ULONG (CK_ULONG),
// BYTES (byte string), UTF8 (RFC 2279 string), ULONG_ARRAY (array of CK_ULONG).
#define CKA_LIST(X) \
  X(CKA_CLASS, 0x00000000, ULONG) \
  X(CKA_TOKEN, 0x00000001, BOOL) \
  X(CKA_PRIVATE, 0x00000002, BOOL) \
  X(CKA_LABEL, 0x00000003, UTF8) \
  X(CKA_UNIQUE_ID, 0x00000004, UTF8) \
  X(CKA_APPLICATION, 0x00000010, UTF8) \
  X(CKA_VALUE, 0x00000011, BYTES) \
  X(CKA_OBJECT_ID, 0x00000012, BYTES) \
  X(CKA_CERTIFICATE_TYPE, 0x00000080, ULONG) \
  X(CKA_ISSUER, 0x00000081, BYTES) \
  X(CKA_SERIAL_NUMBER, 0x00000082, BYTES) \
  X(CKA_TRUSTED, 0x00000086, BOOL) \
  X(CKA_KEY_TYPE, 0x00000100, ULONG) \
  X(CKA_SUBJECT, 0x00000101, BYTES) \
  X(CKA_ID, 0x00000102, BYTES) \
  X(CKA_SENSITIVE, 0x00000103, BOOL) \
  X(CKA_ENCRYPT, 0x00000104, BOOL) \
  X(CKA_DECRYPT, 0x00000105, BOOL) \
  X(CKA_WRAP, 0x00000106, BOOL) \
  X(CKA_UNWRAP, 0x00000107, BOOL) \
  X(CKA_SIGN, 0x00000108, BOOL) \
  X(CKA_SIGN_RECOVER, 0x00000109, BOOL) \
  X(CKA_VERIFY, 0x0000010A, BOOL) \
  X(CKA_VERIFY_RECOVER, 0x0000010B, BOOL) \
  X(CKA_DERIVE, 0x0000010C, BOOL) \
  X(CKA_MODULUS, 0x00000120, BYTES) \
  X(CKA_MODULUS_BITS, 0x00000121, ULONG) \
  X(CKA_PUBLIC_EXPONENT, 0x00000122, BYTES) \
  X(CKA_PRIVATE_EXPONENT, 0x00000123, BYTES) \
  X(CKA_PRIME_1, 0x00000124, BYTES) \
  X(CKA_PRIME_2, 0x00000125, BYTES) \
  X(CKA_EXPONENT_1, 0x00000126, BYTES) \
  X(CKA_EXPONENT_2, 0x00000127, BYTES) \
  X(CKA_COEFFICIENT, 0x00000128, BYTES) \
  X(CKA_PUBLIC_KEY_INFO, 0x00000129, BYTES) \
  X(CKA_VALUE_LEN, 0x00000161, ULONG) \
  X(CKA_EXTRACTABLE, 0x00000162, BOOL) \
  X(CKA_LOCAL, 0x00000163, BOOL) \
  X(CKA_NEVER_EXTRACTABLE, 0x00000164, BOOL) \
  X(CKA_ALWAYS_SENSITIVE, 0x00000165, BOOL) \
  X(CKA_KEY_GEN_MECHANISM, 0x00000166, ULONG) \
  X(CKA_MODIFIABLE, 0x00000170, BOOL) \
  X(CKA_COPYABLE, 0x00000171, BOOL) \
  X(CKA_DESTROYABLE, 0x00000172, BOOL) \
  X(CKA_EC_PARAMS, 0x00000180, BYTES) \
  X(CKA_EC_POINT, 0x00000181, BYTES) \
  X(CKA_ALWAYS_AUTHENTICATE, 0x00000202, BOOL) \
  X(CKA_WRAP_WITH_TRUSTED, 0x00000210, BOOL) \
  X(CKA_ALLOWED_MECHANISMS, 0x40000600, ULONG_ARRAY)

// Object classes.
#define CKO_LIST(X) \
  X(CKO_DATA, 0x00000000) \
  X(CKO_CERTIFICATE, 0x00000001) \
  X(CKO_PUBLIC_KEY, 0x00000002) \
  X(CKO_PRIVATE_KEY, 0x00000003) \
  X(CKO_SECRET_KEY, 0x00000004)

// Key types.
#define CKK_LIST(X) \
  X(CKK_RSA, 0x00000000) \
  X(CKK_DSA, 0x00000001) \
  X(CKK_DH, 0x00000002) \
  X(CKK_EC, 0x00000003) \
  X(CKK_GENERIC_SECRET, 0x00000010) \
  X(CKK_AES, 0x0000001F) \
  X(CKK_EC_EDWARDS, 0x00000040) \
  X(CKK_EC_MONTGOMERY, 0x00000041)

// Mechanisms.
#define CKM_LIST(X) \
  X(CKM_RSA_PKCS_KEY_PAIR_GEN, 0x00000000) \
  X(CKM_RSA_PKCS, 0x00000001) \
  X(CKM_RSA_X_509, 0x00000003) \
  X(CKM_SHA1_RSA_PKCS, 0x00000006) \
  X(CKM_RSA_PKCS_OAEP, 0x00000009) \
  X(CKM_RSA_PKCS_PSS, 0x0000000D) \
  X(CKM_SHA1_RSA_PKCS_PSS, 0x0000000E) \
  X(CKM_SHA256_RSA_PKCS, 0x00000040) \
  X(CKM_SHA384_RSA_PKCS, 0x00000041) \
  X(CKM_SHA512_RSA_PKCS, 0x00000042) \
  X(CKM_SHA256_RSA_PKCS_PSS, 0x00000043) \
  X(CKM_SHA384_RSA_PKCS_PSS, 0x00000044) \
  X(CKM_SHA512_RSA_PKCS_PSS, 0x00000045) \
  X(CKM_SHA224_RSA_PKCS, 0x00000046) \
  X(CKM_SHA224_RSA_PKCS_PSS, 0x00000047) \
  X(CKM_SHA_1, 0x00000220) \
  X(CKM_SHA256, 0x00000250) \
  X(CKM_SHA224, 0x00000255) \
  X(CKM_SHA384, 0x00000260) \
  X(CKM_SHA512, 0x00000270) \
  X(CKM_EC_KEY_PAIR_GEN, 0x00001040) \
  X(CKM_ECDSA, 0x00001041) \
  X(CKM_ECDSA_SHA1, 0x00001042) \
  X(CKM_ECDSA_SHA224, 0x00001043) \
  X(CKM_ECDSA_SHA256, 0x00001044) \
  X(CKM_ECDSA_SHA384, 0x00001045) \
  X(CKM_ECDSA_SHA512, 0x00001046) \
  X(CKM_EC_EDWARDS_KEY_PAIR_GEN, 0x00001055) \
  X(CKM_EDDSA, 0x00001057) \
  X(CKM_AES_KEY_GEN, 0x00001080) \
  X(CKM_AES_GCM, 0x00001087) \
  X(CKM_VENDOR_DEFINED, 0x80000000)

// Mask generation functions (RSA PSS / OAEP).
#define CKG_LIST(X) \
  X(CKG_MGF1_SHA1, 0x00000001) \
  X(CKG_MGF1_SHA256, 0x00000002) \
  X(CKG_MGF1_SHA384, 0x00000003) \
  X(CKG_MGF1_SHA512, 0x00000004) \
  X(CKG_MGF1_SHA224, 0x00000005)

// OAEP encoding-parameter source.
#define CKZ_LIST(X) \
  X(CKZ_DATA_SPECIFIED, 0x00000001)

// User types.
#define CKU_LIST(X) \
  X(CKU_SO, 0x00000000) \
  X(CKU_USER, 0x00000001) \
  X(CKU_CONTEXT_SPECIFIC, 0x00000002)

// Session states.
#define CKS_LIST(X) \
  X(CKS_RO_PUBLIC_SESSION, 0x00000000) \
  X(CKS_RO_USER_FUNCTIONS, 0x00000001) \
  X(CKS_RW_PUBLIC_SESSION, 0x00000002) \
  X(CKS_RW_USER_FUNCTIONS, 0x00000003) \
  X(CKS_RW_SO_FUNCTIONS, 0x00000004)

// C_Initialize flags.
#define CKF_INIT_LIST(X) \
  X(CKF_LIBRARY_CANT_CREATE_OS_THREADS, 0x00000001) \
  X(CKF_OS_LOCKING_OK, 0x00000002)

// CK_SLOT_INFO flags.
#define CKF_SLOT_LIST(X) \
  X(CKF_TOKEN_PRESENT, 0x00000001) \
  X(CKF_REMOVABLE_DEVICE, 0x00000002) \
  X(CKF_HW_SLOT, 0x00000004)

// CK_TOKEN_INFO flags.
#define CKF_TOKEN_LIST(X) \
  X(CKF_RNG, 0x00000001) \
  X(CKF_WRITE_PROTECTED, 0x00000002) \
  X(CKF_LOGIN_REQUIRED, 0x00000004) \
  X(CKF_USER_PIN_INITIALIZED, 0x00000008) \
  X(CKF_RESTORE_KEY_NOT_NEEDED, 0x00000020) \
  X(CKF_CLOCK_ON_TOKEN, 0x00000040) \
  X(CKF_PROTECTED_AUTHENTICATION_PATH, 0x00000100) \
  X(CKF_DUAL_CRYPTO_OPERATIONS, 0x00000200) \
  X(CKF_TOKEN_INITIALIZED, 0x00000400) \
  X(CKF_SECONDARY_AUTHENTICATION, 0x00000800) \
  X(CKF_USER_PIN_COUNT_LOW, 0x00010000) \
  X(CKF_USER_PIN_FINAL_TRY, 0x00020000) \
  X(CKF_USER_PIN_LOCKED, 0x00040000) \
  X(CKF_USER_PIN_TO_BE_CHANGED, 0x00080000) \
  X(CKF_SO_PIN_COUNT_LOW, 0x00100000) \
  X(CKF_SO_PIN_FINAL_TRY, 0x00200000) \
  X(CKF_SO_PIN_LOCKED, 0x00400000) \
  X(CKF_SO_PIN_TO_BE_CHANGED, 0x00800000) \
  X(CKF_ERROR_STATE, 0x01000000)

// CK_SESSION_INFO / C_OpenSession flags.
#define CKF_SESSION_LIST(X) \
  X(CKF_RW_SESSION, 0x00000002) \
  X(CKF_SERIAL_SESSION, 0x00000004)

// CK_MECHANISM_INFO flags.
#define CKF_MECHANISM_LIST(X) \
  X(CKF_HW, 0x00000001) \
  X(CKF_ENCRYPT, 0x00000100) \
  X(CKF_DECRYPT, 0x00000200) \
  X(CKF_DIGEST, 0x00000400) \
  X(CKF_SIGN, 0x00000800) \
  X(CKF_SIGN_RECOVER, 0x00001000) \
  X(CKF_VERIFY, 0x00002000) \
  X(CKF_VERIFY_RECOVER, 0x00004000) \
  X(CKF_GENERATE, 0x00008000) \
  X(CKF_GENERATE_KEY_PAIR, 0x00010000) \
  X(CKF_WRAP, 0x00020000) \
  X(CKF_UNWRAP, 0x00040000) \
  X(CKF_DERIVE, 0x00080000) \
  X(CKF_EC_F_P, 0x00100000) \
  X(CKF_EC_F_2M, 0x00200000) \
  X(CKF_EC_ECPARAMETERS, 0x00400000) \
  X(CKF_EC_OID, 0x00800000) \
  X(CKF_EC_UNCOMPRESS, 0x01000000) \
  X(CKF_EC_COMPRESS, 0x02000000) \
  X(CKF_EC_CURVENAME, 0x04000000)

#define CK_DECLARE_CONSTANT(name, value, ...) static constexpr CK_ULONG name = value##UL;
CKR_LIST(CK_DECLARE_CONSTANT)
CKA_LIST(CK_DECLARE_CONSTANT)
CKO_LIST(CK_DECLARE_CONSTANT)
CKK_LIST(CK_DECLARE_CONSTANT)
CKM_LIST(CK_DECLARE_CONSTANT)
CKG_LIST(CK_DECLARE_CONSTANT)
CKZ_LIST(CK_DECLARE_CONSTANT)
CKU_LIST(CK_DECLARE_CONSTANT)
CKS_LIST(CK_DECLARE_CONSTANT)
CKF_INIT_LIST(CK_DECLARE_CONSTANT)
CKF_SLOT_LIST(CK_DECLARE_CONSTANT)
CKF_TOKEN_LIST(CK_DECLARE_CONSTANT)
CKF_SESSION_LIST(CK_DECLARE_CONSTANT)
CKF_MECHANISM_LIST(CK_DECLARE_CONSTANT)
#undef CK_DECLARE_CONSTANT

static constexpr CK_ULONG CKF_ARRAY_ATTRIBUTE = 0x40000000UL;

#if defined(_WIN32)
#pragma pack(pop, cryptoki)
#endif

#endif  // HSM_JWKS_CRYPTOKI_H_
