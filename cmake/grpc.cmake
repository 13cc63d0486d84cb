# gRPC and protobuf from Debian 12 (libgrpc++-dev, libprotobuf-dev, protobuf-compiler,
# protobuf-compiler-grpc). Debian ships pkg-config files for grpc++ and protobuf but no CMake
# package for protobuf, so pkg-config it is; grpc++_reflection has no .pc file of its own.
pkg_check_modules(GRPCPP REQUIRED IMPORTED_TARGET grpc++ protobuf)
find_library(SHUO_GRPCPP_REFLECTION grpc++_reflection REQUIRED)
find_program(SHUO_PROTOC protoc REQUIRED)
find_program(SHUO_GRPC_CPP_PLUGIN grpc_cpp_plugin REQUIRED)

# shuo_grpc_proto(<target> PROTO_DIR <dir> PROTOS <a.proto> ...): runs protoc + grpc_cpp_plugin
# into the build dir (generated code is never committed) and builds it as the static library
# <target>. Its users get the generated headers and the gRPC libraries; nothing else does, so
# only the files that need gRPC pay for its headers.
function(shuo_grpc_proto target)
  cmake_parse_arguments(P "" "PROTO_DIR" "PROTOS" ${ARGN})
  set(out ${CMAKE_CURRENT_BINARY_DIR}/${target}_gen)
  set(srcs)
  foreach(proto IN LISTS P_PROTOS)
    get_filename_component(stem ${proto} NAME_WE)
    get_filename_component(sub ${proto} DIRECTORY)
    if(sub)
      set(stem ${sub}/${stem})
    endif()
    set(gen ${out}/${stem}.pb.cc ${out}/${stem}.pb.h ${out}/${stem}.grpc.pb.cc ${out}/${stem}.grpc.pb.h)
    add_custom_command(
      OUTPUT ${gen}
      COMMAND ${CMAKE_COMMAND} -E make_directory ${out}
      COMMAND ${SHUO_PROTOC} --proto_path=${P_PROTO_DIR} --cpp_out=${out} --grpc_out=${out}
              --plugin=protoc-gen-grpc=${SHUO_GRPC_CPP_PLUGIN} ${P_PROTO_DIR}/${proto}
      DEPENDS ${P_PROTO_DIR}/${proto}
      COMMENT "protoc ${proto}"
      VERBATIM)
    list(APPEND srcs ${out}/${stem}.pb.cc ${out}/${stem}.grpc.pb.cc)
  endforeach()
  add_library(${target} STATIC ${srcs})
  set_source_files_properties(${srcs} PROPERTIES COMPILE_OPTIONS "-w")  # generated: not ours to fix
  target_include_directories(${target} PUBLIC ${out})
  target_link_libraries(${target} PUBLIC PkgConfig::GRPCPP)
endfunction()
