#pragma once

// The code of the certd::Error that `f` throws; a failed check (and Internal) when it throws none.
// errorOf(): `f` must throw Error(code); its message, for checks of what it says.

#include "error.hpp"

#include <doctest/doctest.h>

#include <functional>
#include <string>

namespace certd::test {

inline ErrorCode errorCodeOf(const std::function<void()>& f)
{
    try {
        f();
    } catch (const Error& e) {
        return e.code();
    }
    FAIL("no certd::Error thrown");
    return ErrorCode::Internal;
}

inline std::string errorOf(ErrorCode code, const std::function<void()>& f)
{
    try {
        f();
    } catch (const Error& e) {
        CHECK(e.code() == code);
        return e.what();
    }
    FAIL("no certd::Error thrown");
    return {};
}

} // namespace certd::test
