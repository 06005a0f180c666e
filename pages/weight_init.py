import streamlit as st

st.title("weight_init")
st.info("This page is being built.")
