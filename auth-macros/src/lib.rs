//! STUB
use proc_macro::TokenStream;
/// stub
#[proc_macro_attribute]
pub fn on(_a: TokenStream, i: TokenStream) -> TokenStream {
    i
}
/// stub
#[proc_macro_attribute]
pub fn authenticate(_a: TokenStream, i: TokenStream) -> TokenStream {
    i
}
