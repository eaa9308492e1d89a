// cryptoki.h: the PKCS#11 ABI as far as hsm-jwks uses it, written here from the facts of the
// OASIS PKCS#11 2.40 and 3.0 specifications (type sizes, structure layouts, function-list order).
// The constant values live in cryptoki_constants.h, the single source of truth for constants.
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

#include "cryptoki_constants.h"  // NOLINT(build/include): needs CK_ULONG

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
typedef CK_RV (*CK_C_GetInterface)(CK_UTF8CHAR* pInterfaceName, CK_VERSION* pVersion, CK_INTERFACE** ppInterface,
                                   CK_FLAGS flags);

#define CK_FN(name, ...) CK_RV (*name)(__VA_ARGS__)
#define CK_FUNCTION_LIST_2_40_MEMBERS                                                                                  \
  CK_VERSION version;                                                                                                  \
  CK_FN(C_Initialize, CK_VOID_PTR pInitArgs);                                                                          \
  CK_FN(C_Finalize, CK_VOID_PTR pReserved);                                                                            \
  CK_FN(C_GetInfo, CK_INFO* pInfo);                                                                                    \
  CK_FN(C_GetFunctionList, CK_FUNCTION_LIST** ppFunctionList);                                                         \
  CK_FN(C_GetSlotList, CK_BBOOL tokenPresent, CK_SLOT_ID* pSlotList, CK_ULONG* pulCount);                              \
  CK_FN(C_GetSlotInfo, CK_SLOT_ID slotID, CK_SLOT_INFO* pInfo);                                                        \
  CK_FN(C_GetTokenInfo, CK_SLOT_ID slotID, CK_TOKEN_INFO* pInfo);                                                      \
  CK_FN(C_GetMechanismList, CK_SLOT_ID slotID, CK_MECHANISM_TYPE* pMechanismList, CK_ULONG* pulCount);                 \
  CK_FN(C_GetMechanismInfo, CK_SLOT_ID slotID, CK_MECHANISM_TYPE type, CK_MECHANISM_INFO* pInfo);                      \
  CK_FN(C_InitToken, CK_SLOT_ID slotID, CK_UTF8CHAR* pPin, CK_ULONG ulPinLen, CK_UTF8CHAR* pLabel);                    \
  CK_FN(C_InitPIN, CK_SESSION_HANDLE hSession, CK_UTF8CHAR* pPin, CK_ULONG ulPinLen);                                  \
  CK_FN(C_SetPIN, CK_SESSION_HANDLE hSession, CK_UTF8CHAR* pOldPin, CK_ULONG ulOldLen, CK_UTF8CHAR* pNewPin,           \
        CK_ULONG ulNewLen);                                                                                            \
  CK_FN(C_OpenSession, CK_SLOT_ID slotID, CK_FLAGS flags, CK_VOID_PTR pApplication, CK_NOTIFY Notify,                  \
        CK_SESSION_HANDLE* phSession);                                                                                 \
  CK_FN(C_CloseSession, CK_SESSION_HANDLE hSession);                                                                   \
  CK_FN(C_CloseAllSessions, CK_SLOT_ID slotID);                                                                        \
  CK_FN(C_GetSessionInfo, CK_SESSION_HANDLE hSession, CK_SESSION_INFO* pInfo);                                         \
  CK_FN(C_GetOperationState, CK_SESSION_HANDLE hSession, CK_BYTE* pOperationState, CK_ULONG* pulOperationStateLen);    \
  CK_FN(C_SetOperationState, CK_SESSION_HANDLE hSession, CK_BYTE* pOperationState, CK_ULONG ulOperationStateLen,       \
        CK_OBJECT_HANDLE hEncryptionKey, CK_OBJECT_HANDLE hAuthenticationKey);                                         \
  CK_FN(C_Login, CK_SESSION_HANDLE hSession, CK_USER_TYPE userType, CK_UTF8CHAR* pPin, CK_ULONG ulPinLen);             \
  CK_FN(C_Logout, CK_SESSION_HANDLE hSession);                                                                         \
  CK_FN(C_CreateObject, CK_SESSION_HANDLE hSession, CK_ATTRIBUTE* pTemplate, CK_ULONG ulCount,                         \
        CK_OBJECT_HANDLE* phObject);                                                                                   \
  CK_FN(C_CopyObject, CK_SESSION_HANDLE hSession, CK_OBJECT_HANDLE hObject, CK_ATTRIBUTE* pTemplate, CK_ULONG ulCount, \
        CK_OBJECT_HANDLE* phNewObject);                                                                                \
  CK_FN(C_DestroyObject, CK_SESSION_HANDLE hSession, CK_OBJECT_HANDLE hObject);                                        \
  CK_FN(C_GetObjectSize, CK_SESSION_HANDLE hSession, CK_OBJECT_HANDLE hObject, CK_ULONG* pulSize);                     \
  CK_FN(C_GetAttributeValue, CK_SESSION_HANDLE hSession, CK_OBJECT_HANDLE hObject, CK_ATTRIBUTE* pTemplate,            \
        CK_ULONG ulCount);                                                                                             \
  CK_FN(C_SetAttributeValue, CK_SESSION_HANDLE hSession, CK_OBJECT_HANDLE hObject, CK_ATTRIBUTE* pTemplate,            \
        CK_ULONG ulCount);                                                                                             \
  CK_FN(C_FindObjectsInit, CK_SESSION_HANDLE hSession, CK_ATTRIBUTE* pTemplate, CK_ULONG ulCount);                     \
  CK_FN(C_FindObjects, CK_SESSION_HANDLE hSession, CK_OBJECT_HANDLE* phObject, CK_ULONG ulMaxObjectCount,              \
        CK_ULONG* pulObjectCount);                                                                                     \
  CK_FN(C_FindObjectsFinal, CK_SESSION_HANDLE hSession);                                                               \
  CK_FN(C_EncryptInit, CK_SESSION_HANDLE hSession, CK_MECHANISM* pMechanism, CK_OBJECT_HANDLE hKey);                   \
  CK_FN(C_Encrypt, CK_SESSION_HANDLE hSession, CK_BYTE* pData, CK_ULONG ulDataLen, CK_BYTE* pEncryptedData,            \
        CK_ULONG* pulEncryptedDataLen);                                                                                \
  CK_FN(C_EncryptUpdate, CK_SESSION_HANDLE hSession, CK_BYTE* pPart, CK_ULONG ulPartLen, CK_BYTE* pEncryptedPart,      \
        CK_ULONG* pulEncryptedPartLen);                                                                                \
  CK_FN(C_EncryptFinal, CK_SESSION_HANDLE hSession, CK_BYTE* pLastEncryptedPart, CK_ULONG* pulLastEncryptedPartLen);   \
  CK_FN(C_DecryptInit, CK_SESSION_HANDLE hSession, CK_MECHANISM* pMechanism, CK_OBJECT_HANDLE hKey);                   \
  CK_FN(C_Decrypt, CK_SESSION_HANDLE hSession, CK_BYTE* pEncryptedData, CK_ULONG ulEncryptedDataLen, CK_BYTE* pData,   \
        CK_ULONG* pulDataLen);                                                                                         \
  CK_FN(C_DecryptUpdate, CK_SESSION_HANDLE hSession, CK_BYTE* pEncryptedPart, CK_ULONG ulEncryptedPartLen,             \
        CK_BYTE* pPart, CK_ULONG* pulPartLen);                                                                         \
  CK_FN(C_DecryptFinal, CK_SESSION_HANDLE hSession, CK_BYTE* pLastPart, CK_ULONG* pulLastPartLen);                     \
  CK_FN(C_DigestInit, CK_SESSION_HANDLE hSession, CK_MECHANISM* pMechanism);                                           \
  CK_FN(C_Digest, CK_SESSION_HANDLE hSession, CK_BYTE* pData, CK_ULONG ulDataLen, CK_BYTE* pDigest,                    \
        CK_ULONG* pulDigestLen);                                                                                       \
  CK_FN(C_DigestUpdate, CK_SESSION_HANDLE hSession, CK_BYTE* pPart, CK_ULONG ulPartLen);                               \
  CK_FN(C_DigestKey, CK_SESSION_HANDLE hSession, CK_OBJECT_HANDLE hKey);                                               \
  CK_FN(C_DigestFinal, CK_SESSION_HANDLE hSession, CK_BYTE* pDigest, CK_ULONG* pulDigestLen);                          \
  CK_FN(C_SignInit, CK_SESSION_HANDLE hSession, CK_MECHANISM* pMechanism, CK_OBJECT_HANDLE hKey);                      \
  CK_FN(C_Sign, CK_SESSION_HANDLE hSession, CK_BYTE* pData, CK_ULONG ulDataLen, CK_BYTE* pSignature,                   \
        CK_ULONG* pulSignatureLen);                                                                                    \
  CK_FN(C_SignUpdate, CK_SESSION_HANDLE hSession, CK_BYTE* pPart, CK_ULONG ulPartLen);                                 \
  CK_FN(C_SignFinal, CK_SESSION_HANDLE hSession, CK_BYTE* pSignature, CK_ULONG* pulSignatureLen);                      \
  CK_FN(C_SignRecoverInit, CK_SESSION_HANDLE hSession, CK_MECHANISM* pMechanism, CK_OBJECT_HANDLE hKey);               \
  CK_FN(C_SignRecover, CK_SESSION_HANDLE hSession, CK_BYTE* pData, CK_ULONG ulDataLen, CK_BYTE* pSignature,            \
        CK_ULONG* pulSignatureLen);                                                                                    \
  CK_FN(C_VerifyInit, CK_SESSION_HANDLE hSession, CK_MECHANISM* pMechanism, CK_OBJECT_HANDLE hKey);                    \
  CK_FN(C_Verify, CK_SESSION_HANDLE hSession, CK_BYTE* pData, CK_ULONG ulDataLen, CK_BYTE* pSignature,                 \
        CK_ULONG ulSignatureLen);                                                                                      \
  CK_FN(C_VerifyUpdate, CK_SESSION_HANDLE hSession, CK_BYTE* pPart, CK_ULONG ulPartLen);                               \
  CK_FN(C_VerifyFinal, CK_SESSION_HANDLE hSession, CK_BYTE* pSignature, CK_ULONG ulSignatureLen);                      \
  CK_FN(C_VerifyRecoverInit, CK_SESSION_HANDLE hSession, CK_MECHANISM* pMechanism, CK_OBJECT_HANDLE hKey);             \
  CK_FN(C_VerifyRecover, CK_SESSION_HANDLE hSession, CK_BYTE* pSignature, CK_ULONG ulSignatureLen, CK_BYTE* pData,     \
        CK_ULONG* pulDataLen);                                                                                         \
  CK_FN(C_DigestEncryptUpdate, CK_SESSION_HANDLE hSession, CK_BYTE* pPart, CK_ULONG ulPartLen,                         \
        CK_BYTE* pEncryptedPart, CK_ULONG* pulEncryptedPartLen);                                                       \
  CK_FN(C_DecryptDigestUpdate, CK_SESSION_HANDLE hSession, CK_BYTE* pEncryptedPart, CK_ULONG ulEncryptedPartLen,       \
        CK_BYTE* pPart, CK_ULONG* pulPartLen);                                                                         \
  CK_FN(C_SignEncryptUpdate, CK_SESSION_HANDLE hSession, CK_BYTE* pPart, CK_ULONG ulPartLen, CK_BYTE* pEncryptedPart,  \
        CK_ULONG* pulEncryptedPartLen);                                                                                \
  CK_FN(C_DecryptVerifyUpdate, CK_SESSION_HANDLE hSession, CK_BYTE* pEncryptedPart, CK_ULONG ulEncryptedPartLen,       \
        CK_BYTE* pPart, CK_ULONG* pulPartLen);                                                                         \
  CK_FN(C_GenerateKey, CK_SESSION_HANDLE hSession, CK_MECHANISM* pMechanism, CK_ATTRIBUTE* pTemplate,                  \
        CK_ULONG ulCount, CK_OBJECT_HANDLE* phKey);                                                                    \
  CK_FN(C_GenerateKeyPair, CK_SESSION_HANDLE hSession, CK_MECHANISM* pMechanism, CK_ATTRIBUTE* pPublicKeyTemplate,     \
        CK_ULONG ulPublicKeyAttributeCount, CK_ATTRIBUTE* pPrivateKeyTemplate, CK_ULONG ulPrivateKeyAttributeCount,    \
        CK_OBJECT_HANDLE* phPublicKey, CK_OBJECT_HANDLE* phPrivateKey);                                                \
  CK_FN(C_WrapKey, CK_SESSION_HANDLE hSession, CK_MECHANISM* pMechanism, CK_OBJECT_HANDLE hWrappingKey,                \
        CK_OBJECT_HANDLE hKey, CK_BYTE* pWrappedKey, CK_ULONG* pulWrappedKeyLen);                                      \
  CK_FN(C_UnwrapKey, CK_SESSION_HANDLE hSession, CK_MECHANISM* pMechanism, CK_OBJECT_HANDLE hUnwrappingKey,            \
        CK_BYTE* pWrappedKey, CK_ULONG ulWrappedKeyLen, CK_ATTRIBUTE* pTemplate, CK_ULONG ulAttributeCount,            \
        CK_OBJECT_HANDLE* phKey);                                                                                      \
  CK_FN(C_DeriveKey, CK_SESSION_HANDLE hSession, CK_MECHANISM* pMechanism, CK_OBJECT_HANDLE hBaseKey,                  \
        CK_ATTRIBUTE* pTemplate, CK_ULONG ulAttributeCount, CK_OBJECT_HANDLE* phKey);                                  \
  CK_FN(C_SeedRandom, CK_SESSION_HANDLE hSession, CK_BYTE* pSeed, CK_ULONG ulSeedLen);                                 \
  CK_FN(C_GenerateRandom, CK_SESSION_HANDLE hSession, CK_BYTE* RandomData, CK_ULONG ulRandomLen);                      \
  CK_FN(C_GetFunctionStatus, CK_SESSION_HANDLE hSession);                                                              \
  CK_FN(C_CancelFunction, CK_SESSION_HANDLE hSession);                                                                 \
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
  CK_FN(C_LoginUser, CK_SESSION_HANDLE hSession, CK_USER_TYPE userType, CK_UTF8CHAR* pPin, CK_ULONG ulPinLen,
        CK_UTF8CHAR* pUsername, CK_ULONG ulUsernameLen);
  CK_FN(C_SessionCancel, CK_SESSION_HANDLE hSession, CK_FLAGS flags);
  CK_UNUSED_3_0_FN C_MessageEncryptInit, C_EncryptMessage, C_EncryptMessageBegin, C_EncryptMessageNext,
      C_MessageEncryptFinal;
  CK_UNUSED_3_0_FN C_MessageDecryptInit, C_DecryptMessage, C_DecryptMessageBegin, C_DecryptMessageNext,
      C_MessageDecryptFinal;
  CK_UNUSED_3_0_FN C_MessageSignInit, C_SignMessage, C_SignMessageBegin, C_SignMessageNext, C_MessageSignFinal;
  CK_UNUSED_3_0_FN C_MessageVerifyInit, C_VerifyMessage, C_VerifyMessageBegin, C_VerifyMessageNext,
      C_MessageVerifyFinal;
};
#undef CK_FN

struct CK_INTERFACE {
  CK_CHAR* pInterfaceName;    // "PKCS 11" for the standard interface
  CK_VOID_PTR pFunctionList;  // CK_FUNCTION_LIST* or CK_FUNCTION_LIST_3_0*, see its version
  CK_FLAGS flags;
};

#if defined(_WIN32)
#pragma pack(pop, cryptoki)
#endif

#endif  // HSM_JWKS_CRYPTOKI_H_
