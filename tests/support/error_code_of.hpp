#pragma once

// The code of the certd::Error that `f` throws; a failed check (and Internal) when it throws none.

#include "error.hpp"

#include <doctest/doctest.h>

#include <functional>

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

} // namespace certd::test
