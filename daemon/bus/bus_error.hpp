#pragma once

// The one translation wrapper between certd and sd-bus: sdbus-c++ 1.2 turns
// only sdbus::Error thrown from a handler into a D-Bus error, so every handler
// body runs inside handleErrors().

#include "error.hpp"
#include "log.hpp"

#include <sdbus-c++/Error.h>

#include <exception>
#include <string>

namespace certd::bus {

inline sdbus::Error toBusError(const certd::Error& e)
{
    return sdbus::Error(std::string(errorName(e.code())), e.what());
}

// The D-Bus error for the exception being handled; call it only inside a catch block.
// Internal errors and anything unexpected are logged once, here.
inline sdbus::Error currentBusError()
{
    try {
        throw;
    } catch (const sdbus::Error& e) {
        return e;
    } catch (const certd::Error& e) {
        if (e.code() == ErrorCode::Internal)
            log::error(std::string("internal error: ") + e.what());
        return toBusError(e);
    } catch (const std::exception& e) {
        log::error(std::string("unexpected error: ") + e.what());
    } catch (...) {
        log::error("unexpected error");
    }
    return sdbus::Error(std::string(errorName(ErrorCode::Internal)), "internal error; see the journal");
}

template <typename F>
auto handleErrors(F&& body) -> decltype(body())
{
    try {
        return body();
    } catch (const std::exception&) {
        throw currentBusError();
    }
}

} // namespace certd::bus
