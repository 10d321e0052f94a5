# Embeds docs/openapi.json into the api (OpenApiDocument() in docs_api.hpp) and passes the pinned
# swagger-ui-dist version (versions.env) for the default Swagger UI folder. Included by
# src/api/CMakeLists.txt; sets CES_OPENAPI_SOURCE (the generated .cpp) for the ces::api target.
set(CES_OPENAPI_FILE ${PROJECT_SOURCE_DIR}/docs/openapi.json)
set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS ${CES_OPENAPI_FILE} ${PROJECT_SOURCE_DIR}/versions.env)
file(READ ${CES_OPENAPI_FILE} CES_OPENAPI_JSON)
string(FIND "${CES_OPENAPI_JSON}" ")ces_openapi\"" CES_OPENAPI_DELIMITER_AT)
if(NOT CES_OPENAPI_DELIMITER_AT EQUAL -1)
  message(FATAL_ERROR "docs/openapi.json contains the raw-string delimiter )ces_openapi\"")
endif()
set(CES_OPENAPI_SOURCE ${CMAKE_CURRENT_BINARY_DIR}/openapi_document.cpp)
configure_file(${CMAKE_CURRENT_SOURCE_DIR}/openapi_document.cpp.in ${CES_OPENAPI_SOURCE} @ONLY)

file(STRINGS ${PROJECT_SOURCE_DIR}/versions.env CES_SWAGGER_UI_LINE REGEX "^SWAGGER_UI_DIST_VERSION=")
string(REGEX REPLACE "^SWAGGER_UI_DIST_VERSION=([^ \t#]+).*" "\\1" CES_SWAGGER_UI_DIST_VERSION "${CES_SWAGGER_UI_LINE}")
if(NOT CES_SWAGGER_UI_DIST_VERSION)
  message(FATAL_ERROR "versions.env does not set SWAGGER_UI_DIST_VERSION")
endif()
set_source_files_properties(${CMAKE_CURRENT_SOURCE_DIR}/docs_api.cpp PROPERTIES
  COMPILE_DEFINITIONS "CES_SWAGGER_UI_DIST_VERSION=\"${CES_SWAGGER_UI_DIST_VERSION}\"")
