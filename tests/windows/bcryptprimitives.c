/*
 * A stand-in bcryptprimitives.dll for Wine 8.0, which lacks it: Rust's std
 * has imported ProcessPrng from it since Rust 1.78. It forwards to
 * RtlGenRandom (advapi32's SystemFunction036). Test harness only: it sits
 * beside the .exe under Wine and is never shipped.
 */
#include <windows.h>

BOOLEAN WINAPI SystemFunction036(PVOID buffer, ULONG length);

__declspec(dllexport) BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T length) {
    while (length > 0) {
        ULONG chunk = length > 0x40000000 ? 0x40000000 : (ULONG)length;
        if (!SystemFunction036(data, chunk)) {
            return FALSE;
        }
        data += chunk;
        length -= chunk;
    }
    return TRUE;
}
