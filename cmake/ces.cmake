# Project-wide build helpers: one library per concern, explicit dependencies, warnings set once.

set(CES_WARNINGS -Wall -Wextra -Wpedantic -Wshadow=local -Wnon-virtual-dtor)
if(CES_WERROR)
  list(APPEND CES_WARNINGS -Werror)
endif()
# GCC 12 reports -Wrestrict inside libstdc++'s std::string operator+ at -O3 (GCC bug 105329, a false
# positive in the standard headers): off for GCC 12 so that Release builds with -Werror pass.
if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU" AND CMAKE_CXX_COMPILER_VERSION VERSION_LESS 13)
  list(APPEND CES_WARNINGS -Wno-restrict)
endif()
# clang (the fuzz build) spells gcc's -Wshadow=local differently, and -Wpedantic there also reports the
# GNU statement expressions inside librdkafka's RD_KAFKA_V_* macros.
if(CMAKE_CXX_COMPILER_ID MATCHES "Clang")
  list(TRANSFORM CES_WARNINGS REPLACE "^-Wshadow=local$" "-Wshadow-uncaptured-local")
  list(APPEND CES_WARNINGS -Wno-gnu-statement-expression)
endif()

# The real node recordings the tests and benchmarks read: scripts/recordings-dir says where (the copy in
# tests/data/casper, or $CES_RECORDINGS); -DCES_RECORDINGS_DIR=... overrides.
if(NOT CES_RECORDINGS_DIR)
  execute_process(COMMAND "${PROJECT_SOURCE_DIR}/scripts/recordings-dir" OUTPUT_VARIABLE CES_RECORDINGS_DIR
                  OUTPUT_STRIP_TRAILING_WHITESPACE RESULT_VARIABLE ces_recordings_missing)
  if(ces_recordings_missing)
    message(WARNING "node recordings not found (tests that read them will fail): ${CES_RECORDINGS_DIR}")
  endif()
endif()

# CES_SANITIZE: ON/address = ASan + UBSan (the asan tier of scripts/test.sh), thread = TSan (the tsan tier).
string(TOUPPER "${CES_SANITIZE}" ces_sanitize)
if(ces_sanitize STREQUAL "THREAD")
  # -Wno-tsan: GCC warns that TSan does not model std::atomic_thread_fence, which Boost.Asio's fenced
  # blocks use around handler calls; Asio's handoffs also go through mutexes, which TSan does see.
  add_compile_options(-fsanitize=thread -fno-omit-frame-pointer -Wno-tsan)
  add_link_options(-fsanitize=thread)
elseif(ces_sanitize MATCHES "^(ON|1|YES|TRUE|ADDRESS)$")
  add_compile_options(-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined)
  add_link_options(-fsanitize=address,undefined)
elseif(NOT ces_sanitize MATCHES "^(OFF|0|NO|FALSE|)$")
  message(FATAL_ERROR "CES_SANITIZE must be OFF, ON (= address), address or thread, not '${CES_SANITIZE}'")
endif()

# The fuzz build (CES_BUILD_FUZZ, clang, a build folder of its own): every library carries libFuzzer's
# coverage instrumentation and ASan/UBSan, so a fuzz target links the ces:: library it tests.
if(CES_BUILD_FUZZ)
  if(NOT CMAKE_CXX_COMPILER_ID MATCHES "Clang")
    message(FATAL_ERROR "CES_BUILD_FUZZ needs clang: configure with CXX=clang++ in a separate build directory")
  endif()
  if(NOT ces_sanitize MATCHES "^(OFF|0|NO|FALSE|)$")
    message(FATAL_ERROR "CES_BUILD_FUZZ brings its own sanitizers: leave CES_SANITIZE off")
  endif()
  add_compile_options(-fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=undefined
                      -fno-omit-frame-pointer)
  add_link_options(-fsanitize=address,undefined)
endif()

# ces_add_library(NAME name SRCS a.cpp ... DEPS public deps ... PRIVATE_DEPS private deps ...)
# Creates static library ces_<name> with alias ces::<name>. Public headers live in include/ces/<name>/.
function(ces_add_library)
  cmake_parse_arguments(ARG "" "NAME" "SRCS;DEPS;PRIVATE_DEPS" ${ARGN})
  add_library(ces_${ARG_NAME} STATIC ${ARG_SRCS})
  add_library(ces::${ARG_NAME} ALIAS ces_${ARG_NAME})
  target_include_directories(ces_${ARG_NAME} PUBLIC ${CMAKE_CURRENT_SOURCE_DIR}/include PRIVATE ${CMAKE_CURRENT_SOURCE_DIR})
  target_compile_options(ces_${ARG_NAME} PRIVATE ${CES_WARNINGS})
  target_link_libraries(ces_${ARG_NAME} PUBLIC ${ARG_DEPS} PRIVATE ${ARG_PRIVATE_DEPS})
  set_property(GLOBAL APPEND PROPERTY CES_LIBRARIES ${ARG_NAME})
endfunction()

include(layers)

# ces_add_test(NAME name SRCS ... DEPS ... LABELS unit|integration|e2e|ha [TIMEOUT s])
function(ces_add_test)
  cmake_parse_arguments(ARG "" "NAME;TIMEOUT" "SRCS;DEPS;LABELS" ${ARGN})
  add_executable(${ARG_NAME} ${ARG_SRCS})
  target_compile_options(${ARG_NAME} PRIVATE ${CES_WARNINGS})
  target_link_libraries(${ARG_NAME} PRIVATE ${ARG_DEPS} GTest::gtest GTest::gtest_main GTest::gmock)
  target_compile_definitions(${ARG_NAME} PRIVATE
    CES_SOURCE_DIR="${PROJECT_SOURCE_DIR}" CES_RECORDINGS_DIR="${CES_RECORDINGS_DIR}"
    CES_BINARY="$<TARGET_FILE:casper-event-store>")
  if(NOT ARG_TIMEOUT)
    set(ARG_TIMEOUT 600)
  endif()
  add_test(NAME ${ARG_NAME} COMMAND ${ARG_NAME})
  set_tests_properties(${ARG_NAME} PROPERTIES LABELS "${ARG_LABELS}" TIMEOUT ${ARG_TIMEOUT})
endfunction()
