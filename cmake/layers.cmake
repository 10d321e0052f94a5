# The library table of docs/architecture.md, as the build checks it.
#
# CES_LAYER_<name>: the ces:: libraries that library <name> may link (directly, public or private).
# CES_DRIVER_<target>: the only libraries that may link the C driver or server-facing dependency
# <target> (a librdkafka, libmongoc, libpq, libpqxx, libcurl or Boost handle in any other library
# would bypass the wrapper that owns it).
# ces_check_layers(), called once every target exists, fails the configure step when a library links
# a ces:: library or a driver its row does not allow, reaches into another library's private folder,
# or has no row at all. Services (service_*) may link any library but no driver.

# Foundation: no ces:: dependency.
set(CES_LAYER_common "")
# Formats and protocols: pure code over bytes.
set(CES_LAYER_sse common)
set(CES_LAYER_casper common)
set(CES_LAYER_model common)
set(CES_LAYER_legacy common)
# Drivers: one library per external system.
set(CES_LAYER_http common)
set(CES_LAYER_kafka common)
set(CES_LAYER_mongo common)
set(CES_LAYER_postgres common model)
set(CES_LAYER_query common)
set(CES_LAYER_rpc common)
# Stages: a driver or two plus the formats they move.
set(CES_LAYER_ingest common kafka sse casper)
set(CES_LAYER_audit common kafka mongo ingest casper)
set(CES_LAYER_store common kafka ingest model postgres rpc)
set(CES_LAYER_backfill common rpc kafka ingest casper model postgres)
set(CES_LAYER_chain common kafka ingest casper audit)
set(CES_LAYER_emit common http sse casper rpc backfill)
# Serving: the read side over the stores and the live stream.
set(CES_LAYER_live common kafka audit http legacy)
set(CES_LAYER_api common live legacy audit mongo query http backfill ingest)

set(CES_DRIVER_PkgConfig::RDKAFKA kafka)
set(CES_DRIVER_mongo::mongoc_shared mongo)
set(CES_DRIVER_PkgConfig::PQXX postgres)
set(CES_DRIVER_PkgConfig::PQ query)
# store's era-reward lookup calls a node's JSON-RPC itself (one request type, no retry state).
set(CES_DRIVER_CURL::libcurl sse rpc store)
set(CES_DRIVER_Boost::headers http)

function(ces_check_layers)
  get_property(libraries GLOBAL PROPERTY CES_LIBRARIES)
  set(drivers PkgConfig::RDKAFKA mongo::mongoc_shared PkgConfig::PQXX PkgConfig::PQ CURL::libcurl Boost::headers)
  set(problems "")
  foreach(name IN LISTS libraries)
    get_target_property(links ces_${name} LINK_LIBRARIES)
    get_target_property(includes ces_${name} INCLUDE_DIRECTORIES)
    get_target_property(dir ces_${name} SOURCE_DIR)
    if(NOT links)
      set(links "")
    endif()
    set(is_service FALSE)
    if(name MATCHES "^service_")
      set(is_service TRUE)
    elseif(NOT DEFINED CES_LAYER_${name})
      string(APPEND problems "\n  ces::${name} has no row in cmake/layers.cmake (and docs/architecture.md)")
      continue()
    endif()
    foreach(link IN LISTS links)
      # target_link_libraries(... PRIVATE x) records private items as $<LINK_ONLY:x>.
      string(REGEX REPLACE "^\\$<LINK_ONLY:(.*)>$" "\\1" link "${link}")
      if(link MATCHES "^ces::(.+)$")
        set(used ${CMAKE_MATCH_1})
        if(used MATCHES "^service_")
          string(APPEND problems "\n  ces::${name} links the service ces::${used}")
        elseif(NOT is_service AND NOT used IN_LIST CES_LAYER_${name})
          string(APPEND problems "\n  ces::${name} links ces::${used}, which its row does not allow")
        endif()
      elseif(link IN_LIST drivers AND NOT name IN_LIST CES_DRIVER_${link})
        string(APPEND problems "\n  ces::${name} links ${link}, which only ${CES_DRIVER_${link}} may use")
      endif()
    endforeach()
    foreach(include IN LISTS includes)
      string(FIND "${include}/" "${PROJECT_SOURCE_DIR}/src/" in_src)
      string(FIND "${include}/" "${dir}/" in_own)
      if(in_src EQUAL 0 AND NOT in_own EQUAL 0)
        string(APPEND problems "\n  ces::${name} includes ${include}, another library's private folder")
      endif()
    endforeach()
  endforeach()
  if(problems)
    message(FATAL_ERROR "library layering (cmake/layers.cmake):${problems}")
  endif()
endfunction()
